// The account admin's view: tabs for members, usage, requests, audit, alerts and webhooks (seed
// 000's permission table: the admin sees every key, the usage of all of them and the account's
// quotas).

import { get } from './api.js';
import { alertLog, auditLog, requestLog, thresholdsForm } from './logs.js';
import { nameOfKey, renderMembers } from './members.js';
import { h, refusedPanel, section } from './ui.js';
import { usagePanel } from './usage.js';
import { renderWebhooks } from './webhooks.js';

export const ADMIN_TABS = [['members', 'Members'], ['usage', 'Usage'], ['requests', 'Requests'], ['audit', 'Audit'], ['alerts', 'Alerts'],
  ['webhooks', 'Webhooks']];

const usageState = { scope: '', granularity: 'day', metric: 'requests' };

// Draws tab `tab` into `root`. Whatever the API refuses (a member's key here: 403 FORBIDDEN) is
// shown as the API said it.
export async function renderAdmin(root, tab) {
  if (tab === 'members') return renderMembers(root);
  if (tab === 'webhooks') return renderWebhooks(root);
  let keys;
  try {
    keys = await get('/v1/keys');
  } catch (err) {
    root.replaceChildren(refusedPanel(ADMIN_TABS.find(([t]) => t === tab)?.[1] || 'Account admin', err));
    return;
  }
  const byId = new Map(keys.map((k) => [k.key_id, k]));
  const nameOf = (id) => (byId.has(id) ? nameOfKey(byId.get(id)) : id);
  const members = keys.map((k) => [k.key_id, nameOfKey(k)]);
  if (tab === 'usage') {
    const roots = keys.filter((k) => !k.parent);
    if (!usageState.scope && roots.length === 1) usageState.scope = roots[0].key_id;
    root.replaceChildren(section('Usage by member', usagePanel({
      scopes: [['', 'whole account'], ...roots.map((k) => [k.key_id, `pool of ${nameOfKey(k)}`])],
      path: (scope, granularity) => `/v1/usage?granularity=${granularity}&group_by=key${scope ? `&key=${scope}` : ''}`,
      nameOf: (k) => nameOf(k.key_id),
      state: usageState,
    })));
  } else if (tab === 'requests') {
    root.replaceChildren(section('Request log', h('p', { class: 'hint', text: 'Every request of every member, newest first (kept 30 days).' }),
      requestLog({ path: '/v1/requests', members, nameOf })));
  } else if (tab === 'alerts') {
    const live = keys.filter((k) => k.status !== 'deleted');
    const list = h('div');
    const draw = () => list.replaceChildren(alertLog({ members, nameOf }));
    draw();
    root.replaceChildren(
      section('Alert thresholds', h('p', { class: 'hint', text: 'Percents of a pool\'s daily requests, monthly units and credits (a root key), or of a member\'s cap (a child). Counting starts when they are set; a top-up or refill opens a new credits window.' }),
        thresholdsForm({ keys: live, nameOf, onSet: draw })),
      section('Alerts', h('p', { class: 'hint', text: 'threshold.crossed once per day or month at each threshold; threshold.resolved when the window ends or the limit is raised. Newest first.' }),
        list));
  } else {
    root.replaceChildren(section('Audit history', h('p', { class: 'hint', text: 'Every operation on the account\'s keys, accepted or refused, newest first.' }),
      auditLog({ members, nameOf })));
  }
}
