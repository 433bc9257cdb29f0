// The admin's webhooks tab (docs/api.md "Webhooks"): register an endpoint for the threshold
// alerts (its signing secret shown once, never kept), the account's endpoints with delete, and
// one endpoint's delivery log, paged and filtered by state. Every action calls the API, then
// redraws the list from a fresh read.

import { call, get, query } from './api.js';
import { pagedList, statusText } from './logs.js';
import { h, number, time, showError, notify, confirmDialog, showKeyOnce, section, table, field,
  select, refusedPanel } from './ui.js';

const EVENTS = ['threshold.crossed', 'threshold.resolved'];
const STATE_GLYPH = { pending: '◌', delivered: '✓', failed: '✕' };

const SECRET_ONCE = 'Copy it now, it is not shown again: keymeter answers it only when the webhook is ' +
  'registered. Give it to the receiver, which checks every delivery\'s Keymeter-Signature with it.';

// POST /v1/webhooks: the URL and the alerts it gets; the secret of the answer is shown once.
function registerForm(refresh) {
  const url = h('input', { name: 'url', type: 'url', autocomplete: 'off', spellcheck: 'false', size: 40,
    placeholder: 'https://hooks.example.com/keymeter' });
  const boxes = EVENTS.map((name) => h('input', { type: 'checkbox', name: 'events', value: name, checked: true }));
  const errors = h('div', { class: 'errors' });
  const form = h('form', { class: 'webhook-new controls', novalidate: true },
    field('Endpoint URL (http or https)', url),
    h('fieldset', { class: 'events' }, h('legend', { text: 'Alerts it gets (none ticked: both)' }),
      boxes.map((box) => h('label', { class: 'check' }, box, ` ${box.value}`))),
    h('button', { type: 'submit', text: 'Register' }), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const events = boxes.filter((box) => box.checked).map((box) => box.value);
    try {
      const r = await call('POST', '/v1/webhooks', { url: url.value, events });
      showError(errors, null);
      if (r.status === 202) {
        notify('Accepted: keymeter will apply it shortly, without a secret: delete it and register another to get one.');
      } else {
        await showKeyOnce(`Signing secret of ${r.body.webhook_id}`, r.body.secret,
          `Alerts ${r.body.events.join(', ')} go to ${r.body.url}.`, { what: 'Signing secret', once: SECRET_ONCE });
      }
      url.value = '';
      await refresh();
    } catch (err) {
      showError(errors, err, 'Not registered');
    }
  });
  return form;
}

// The endpoints, each with its delivery log's toggle and delete.
function webhooksTable(webhooks, { errors, refresh, open, toggle }) {
  const button = (action, label, text, handler, cls = 'secondary', props = {}) =>
    h('button', { type: 'button', class: `small ${cls}`, dataset: { action }, 'aria-label': label, text, onclick: handler, ...props });
  const actions = (w) => h('div', { class: 'actions' },
    button('deliveries', `Deliveries of ${w.webhook_id}`, 'Deliveries', () => toggle(w.webhook_id), 'secondary',
      { 'aria-expanded': String(w.webhook_id === open) }),
    button('delete', `Delete ${w.webhook_id}`, 'Delete', async (e) => {
      const target = e.currentTarget;  // gone from the event once the dialog has been awaited
      if (!await confirmDialog('Delete webhook', `Delete the webhook to ${w.url}? Alerts stop going there; ` +
        'its pending deliveries and its delivery log are dropped.', 'Delete')) return;
      target.disabled = true;
      try {
        await call('DELETE', `/v1/webhooks/${w.webhook_id}`);
        showError(errors, null);
        notify(`Webhook ${w.webhook_id} deleted.`);
        await refresh();
      } catch (err) {
        showError(errors, err, `Delete ${w.webhook_id}`);
        await refresh(false);
      }
    }, 'danger'));
  return table([
    { label: 'Webhook id', cell: (w) => h('code', { text: w.webhook_id }) },
    { label: 'URL', cell: (w) => h('code', { class: 'url', text: w.url }) },
    { label: 'Alerts', cell: (w) => w.events.join(', ') },
    { label: 'Created', cell: (w) => time(w.created) },
    { label: 'Actions', cell: actions },
  ], webhooks, { empty: 'No webhooks yet: register one above.', rowProps: (w) => ({ dataset: { webhook: w.webhook_id } }) });
}

// GET /v1/webhooks/{id}/deliveries: what each alert's delivery came to, newest alert first.
function deliveryLog(webhook) {
  return pagedList({
    name: 'deliveries',
    filters: [field('State', select('state', [['', 'every'], ['pending', 'pending'], ['delivered', 'delivered'], ['failed', 'failed']], '')),
      field('Per page', select('limit', [['20', '20'], ['50', '50'], ['100', '100']], '20'))],
    empty: 'No deliveries match.',
    fetchPage: async (data, cursor) => {
      const r = await get(`/v1/webhooks/${webhook.webhook_id}/deliveries` +
        query({ state: data.get('state'), limit: data.get('limit'), cursor }));
      return { rows: r.deliveries, next_cursor: r.next_cursor };
    },
    rowProps: (d) => ({ dataset: { alert: d.alert_id, state: d.state } }),
    columns: [
      { label: 'Alert', cell: (d) => h('code', { text: d.alert_id }) },
      { label: 'Type', cell: (d) => d.type || h('span', { class: 'hint', text: 'alert no longer stored' }) },
      { label: 'State', cell: (d) => h('span', { class: d.state === 'failed' ? 'outcome refused' : `outcome ${d.state === 'delivered' ? 'ok' : 'pending'}`,
        text: `${STATE_GLYPH[d.state] || '?'} ${d.state}` }) },
      { label: 'Attempts', class: 'num', cell: (d) => number(d.attempts) },
      { label: 'Last attempt', cell: (d) => time(d.last_attempt, true) },
      { label: 'Last status', cell: (d) => (d.last_status ? statusText(d.last_status) : '—') },
      { label: 'Last error', cell: (d) => d.last_error || '—' },
      { label: 'Next attempt', cell: (d) => time(d.next_attempt, true) },
    ],
  });
}

// Draws the tab into `root`. A refused first read (a member's key: 403 FORBIDDEN) is shown as
// the API said it.
export async function renderWebhooks(root) {
  let webhooks;
  try {
    webhooks = (await get('/v1/webhooks')).webhooks;
  } catch (err) {
    root.replaceChildren(refusedPanel('Webhooks', err));
    return;
  }
  const errors = h('div', { class: 'errors', id: 'webhooks-errors' });
  const list = h('div', { class: 'webhooks-list' });
  const log = h('div', { class: 'deliveries' });
  let open = '';  // the webhook whose delivery log is shown
  const drawLog = () => {
    const w = webhooks.find((x) => x.webhook_id === open);
    if (!w) open = '';
    log.replaceChildren(w ? section(`Deliveries to ${w.url}`, h('p', { class: 'hint', text:
      `Webhook ${w.webhook_id}: one delivery per alert, newest alert first (30 days); a failed one was given up ` +
      'after its retries. Apply reads the log again.' }), deliveryLog(w)) : '');
  };
  const toggle = (id) => {
    open = open === id ? '' : id;
    for (const b of list.querySelectorAll('button[data-action=deliveries]')) {
      b.setAttribute('aria-expanded', String(b.closest('tr').dataset.webhook === open));
    }
    drawLog();
  };
  const drawList = () => {
    list.replaceChildren(webhooksTable(webhooks, { errors, refresh, open, toggle }));
    if (!webhooks.some((w) => w.webhook_id === open)) drawLog();
  };
  // `clear`: drop the error shown by the last action (false keeps it).
  async function refresh(clear = true) {
    try {
      webhooks = (await get('/v1/webhooks')).webhooks;
      if (clear) showError(errors, null);
      drawList();
    } catch (err) {
      showError(errors, err, 'The API refused');
    }
  }
  drawList();
  root.replaceChildren(
    section('Register a webhook', h('p', { class: 'hint', text: 'keymeter POSTs each threshold alert, signed, to the URL; ' +
      'anything but a 2xx is retried (for a day by default), then the delivery fails. At most 10 per account.' }), registerForm(refresh)),
    section('Webhooks', errors, list),
    log);
}
