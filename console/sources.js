// The allowed-sources form (IPs or CIDRs, v4 and v6, and domains), one per line. The API
// validates; its refusal (INVALID-CIDR, INVALID-DOMAIN, TOO-MANY-SOURCES) is shown as it says.

import { call } from './api.js';
import { h, field, showError, notify } from './ui.js';

const lines = (text) => text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

// `path`: PUT target; `sources`: the current {ips, domains}; `onSaved(key)` after a success.
export function sourcesForm({ path, sources, onSaved }) {
  const ips = h('textarea', { name: 'ips', rows: 3, spellcheck: 'false' });
  ips.value = (sources.ips || []).join('\n');
  const domains = h('textarea', { name: 'domains', rows: 2, spellcheck: 'false' });
  domains.value = (sources.domains || []).join('\n');
  const errors = h('div', { class: 'errors' });
  const save = h('button', { type: 'submit', text: 'Save sources' });
  const form = h('form', { class: 'sources', novalidate: true },
    field('Allowed IPs or CIDRs (one per line; none = any address)', ips),
    field('Allowed domains, one per line: sites the key works from in a browser (Origin or Referer; *.example.com for subdomains)', domains), errors, h('div', { class: 'buttons' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      const r = await call('PUT', path, { ips: lines(ips.value), domains: lines(domains.value) });
      showError(errors, null);
      notify('Allowed sources saved.');
      if (onSaved) await onSaved(r.body);
    } catch (err) {
      showError(errors, err, 'Not saved');
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
