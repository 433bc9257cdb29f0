// A member's view (seed 000's CHILD column, seed 002's member rights): its own key's status and
// effective (inherited) config, its usage and request log, rotate its key, edit its allowed
// sources — nothing of other members, quotas or billing (the API would refuse anyway).

import { call, get, setCredential } from './api.js';
import { requestLog } from './logs.js';
import { sourcesForm } from './sources.js';
import { h, number, time, statusBadge, showError, notify, confirmDialog, showKeyOnce, section, refusedPanel, rateText } from './ui.js';
import { usagePanel } from './usage.js';

const usageState = { scope: '', granularity: 'day', metric: 'requests' };

function keyPanel(me, onRotated) {
  const errors = h('div', { class: 'errors' });
  const config = me.config || { products: [], settings: {} };
  const settings = Object.entries(config.settings || {});
  const rotate = h('button', { type: 'button', dataset: { action: 'rotate-own' }, text: 'Rotate my key',
    onclick: async () => {
      if (!await confirmDialog('Rotate my key', 'Get a new secret? The current one stops working at once.', 'Rotate')) return;
      try {
        const r = await call('POST', '/v1/me/rotate', { grace_seconds: 0 });
        setCredential(r.body.key);  // this session goes on with the new key
        await showKeyOnce('Your new key', r.body.key);
        notify('Key rotated; this session now uses the new key.');
        await onRotated();
      } catch (err) {
        showError(errors, err, 'Not rotated');
      }
    } });
  const dl = (pairs) => h('dl', { class: 'facts' }, pairs.map(([term, value]) => [h('dt', { text: term }), h('dd', {}, value)]));
  return section('My key',
    dl([
      ['Member', me.label || '(no label)'],
      ['Key id', h('code', { text: me.key_id })],
      ['Status', statusBadge(me.status)],
      ['Parent', me.parent ? h('code', { text: me.parent }) : 'none (a root key)'],
      ['Created', time(me.created)],
      ['Rotation grace until', time(me.rotation_grace_until)],
      ['Requests left today', me.remaining?.daily_requests == null ? 'no limit' : `${number(me.remaining.daily_requests)} (resets ${time(me.reset?.daily)})`],
      ['Units left this month', me.remaining?.monthly_units == null ? 'no limit' : `${number(me.remaining.monthly_units)} (resets ${time(me.reset?.monthly)})`],
      ['Credits left', me.remaining?.credits == null ? 'no credits' : number(me.remaining.credits)],
      ['Requests left now', [['per_second', 'this second'], ['per_minute', 'this minute'], ['per_hour', 'this hour']]
        .filter(([f]) => me.remaining?.[f] != null).map(([f, w]) => `${number(me.remaining[f])} ${w}`).join(' · ') || 'no rate limit'],
      ['My limits', [me.limits?.daily_requests ? `${number(me.limits.daily_requests)} requests/day` : '',
        me.limits?.monthly_units ? `${number(me.limits.monthly_units)} units/month` : '',
        rateText(me.rate_limits)].filter(Boolean).join(' · ') || 'none of my own'],
      ['Expires', me.effective_expires_at ? time(me.effective_expires_at) : 'never'],
    ]),
    h('h3', { text: 'Effective config' }),
    h('p', { class: 'hint', text: config.inherited_from ? `Inherited from the parent key ${config.inherited_from}: it follows the parent's changes.` : 'The key\'s own config.' }),
    dl([
      ['Products', config.products?.length ? config.products.join(', ') : 'every product'],
      ['Settings', settings.length ? settings.map(([k, v]) => `${k} = ${v}`).join(', ') : 'none'],
    ]),
    errors, h('div', { class: 'buttons' }, rotate));
}

// Draws the member's page into `root`.
export async function renderMember(root) {
  let me;
  try {
    me = await get('/v1/me');
  } catch (err) {
    root.replaceChildren(refusedPanel('My key', err));
    return;
  }
  const redraw = () => renderMember(root);
  root.replaceChildren(
    keyPanel(me, redraw),
    section('Allowed sources', sourcesForm({ path: '/v1/me/allowed-sources', sources: me.allowed_sources, onSaved: redraw })),
    section('My usage', usagePanel({ path: (_, granularity) => `/v1/me/usage?granularity=${granularity}`,
      nameOf: () => me.label || me.key_id, state: usageState })),
    section('My requests', requestLog({ path: '/v1/me/requests', nameOf: () => me.label || me.key_id })));
}
