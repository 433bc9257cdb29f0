// The admin's members tab (seed 000's "Team members", seed 002's "My Team"): the pools' quota
// gauges, the invite form and the members table with its actions. Every action calls the API,
// then redraws the tab from fresh reads, so what is shown is what keymeter decided.

import { call, get, query } from './api.js';
import { gauge } from './chart.js';
import { sourcesForm } from './sources.js';
import { h, number, time, statusBadge, showError, notify, confirmDialog, showKeyOnce, section,
  table, field, select, refusedPanel, utcInput, rateText } from './ui.js';

const dayStart = (t = new Date()) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
const monthStart = (t = new Date()) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
const nextDay = () => new Date(dayStart().getTime() + 86400e3).toISOString();
const nextMonth = () => { const t = new Date(); return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1)).toISOString(); };

export const nameOfKey = (k) => (k.label ? `${k.label} (${k.key_id})` : k.key_id);
const rootOf = (k) => k.root || k.key_id;

// Everything the tab shows, read fresh.
async function load() {
  const keys = await get('/v1/keys');
  const [today, month, last] = await Promise.all([
    get('/v1/usage' + query({ granularity: 'day', from: dayStart().toISOString(), group_by: 'key' })),
    get('/v1/usage' + query({ granularity: 'month', from: monthStart().toISOString(), group_by: 'key' })),
    Promise.all(keys.filter((k) => k.status !== 'deleted').slice(0, 200).map((k) =>
      get('/v1/requests' + query({ key: k.key_id, limit: 1 })).then((r) => [k.key_id, r.requests[0]?.time]))),
  ]);
  const totals = (usage) => new Map((usage.keys || []).map((k) => [k.key_id, k.totals]));
  return { keys, today: totals(today), month: totals(month), last: new Map(last) };
}

// A dialog holding `form`; errors stay in it, it closes on success.
function formDialog(title, form) {
  const dialog = h('dialog', { class: 'dialog' }, h('h2', { text: title }), form,
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'secondary', text: 'Close', onclick: () => dialog.close() })));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function parentDialog(key, keys, refresh) {
  const roots = keys.filter((k) => !k.parent && k.status !== 'deleted' && k.key_id !== key.key_id);
  const errors = h('div', { class: 'errors' });
  const choice = select('parent', [['', '— none: a root key —'], ...roots.map((k) => [k.key_id, nameOfKey(k)])], key.parent || '');
  const form = h('form', { novalidate: true }, field('Parent key', choice), errors,
    h('p', { class: 'hint', text: 'A child uses its parent\'s config and counts toward its parent\'s quota.' }),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', text: 'Set parent' })));
  const dialog = formDialog(`Parent of ${nameOfKey(key)}`, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await call('PUT', `/v1/keys/${key.key_id}/parent`, { parent: choice.value });
      dialog.close();
      notify(choice.value ? `${nameOfKey(key)} is now a child of ${choice.value}.` : `${nameOfKey(key)} is now a root key.`);
      await refresh();
    } catch (err) {
      showError(errors, err, 'Not changed');
    }
  });
}

function sourcesDialog(key, refresh) {
  let dialog;
  const form = sourcesForm({ path: `/v1/keys/${key.key_id}/allowed-sources`, sources: key.allowed_sources,
    onSaved: async () => { dialog.close(); await refresh(); } });
  dialog = formDialog(`Allowed sources of ${nameOfKey(key)}`, form);
}

// A pool's rate limits and credits, as the pool card shows them.
function poolLimits(root) {
  const credits = root.credits;
  return h('p', { class: 'limits' },
    h('span', { dataset: { part: 'rate' }, text: `Rate limits: ${rateText(root.rate_limits) || 'none'}` }),
    credits ? h('span', { dataset: { part: 'credits' }, text:
      ` · Credits: ${credits.enabled ? `${number(credits.balance)} left` : 'off'}` +
      (credits.refill ? ` · refill ${number(credits.refill.units)} per ${credits.refill.period}` +
        `${credits.refill.rollover ? ' with rollover' : ''} (next ${time(credits.next_refill)})` : '') }) : null);
}

// The admin's limits of one key (docs/api.md, Limits): rate limits on any key; caps on a child;
// expiry; a root's credits (top-up and refill). Each part changed is one call; the first refusal
// stops the rest and shows its code.
function limitsDialog(key, refresh) {
  const errors = h('div', { class: 'errors' });
  const num = (name, value) => h('input', { name, type: 'number', min: '0', step: '1', value: value ? String(value) : '' });
  const rate = key.rate_limits || {};
  const perSecond = num('per_second', rate.per_second);
  const perMinute = num('per_minute', rate.per_minute);
  const perHour = num('per_hour', rate.per_hour);
  const capDaily = num('cap_daily', key.cap?.daily_requests);
  const capMonthly = num('cap_monthly', key.cap?.monthly_units);
  const expires = h('input', { name: 'expires_at', type: 'datetime-local', step: '1',
    value: key.expires_at ? key.expires_at.slice(0, 19) : '' });
  const topUp = h('input', { name: 'credits', type: 'number', step: '1', placeholder: 'e.g. 5000' });
  const reason = h('input', { name: 'reason', type: 'text', autocomplete: 'off', placeholder: 'invoice, trial…' });
  const refill = key.credits?.refill;
  const refillUnits = num('refill_units', refill?.units);
  const refillPeriod = select('refill_period', [['', 'no refill'], ['day', 'per day'], ['month', 'per month']], refill?.period || '');
  const rollover = h('input', { name: 'rollover', type: 'checkbox', checked: !!refill?.rollover });
  const value = (input) => (input.value === '' ? 0 : Number(input.value));
  const child = !!key.parent;
  const form = h('form', { class: 'limits', novalidate: true },
    h('p', { class: 'hint', text: child ? 'Limits of this member, inside its parent\'s pool. Empty or 0: none.'
      : 'Limits of the pool: this key and all its members together. Empty or 0: none.' }),
    h('div', { class: 'controls' }, field('Requests per second', perSecond), field('per minute', perMinute), field('per hour', perHour)),
    child ? h('div', { class: 'controls' }, field('Member cap: requests per day', capDaily), field('units per month', capMonthly)) : null,
    h('div', { class: 'controls' }, field('Expires (UTC; empty: never)', expires)),
    child ? null : h('div', { class: 'controls' }, field('Add credits (units)', topUp), field('Reason', reason)),
    child ? null : h('div', { class: 'controls' }, field('Refill (units)', refillUnits), field('Refill period', refillPeriod),
      field('Roll over unused credits', rollover)),
    errors, h('div', { class: 'buttons' }, h('button', { type: 'submit', text: 'Save limits' })));
  const dialog = formDialog(`Limits of ${nameOfKey(key)}`, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // Only what changed is sent: each call is an op in the log and a line in the audit.
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    try {
      const rates = { per_second: value(perSecond), per_minute: value(perMinute), per_hour: value(perHour) };
      if (!same(rates, { per_second: rate.per_second || 0, per_minute: rate.per_minute || 0, per_hour: rate.per_hour || 0 })) {
        await call('PUT', `/v1/keys/${key.key_id}/rate-limits`, rates);
      }
      const caps = { daily_requests: value(capDaily), monthly_units: value(capMonthly) };
      if (child && !same(caps, { daily_requests: key.cap?.daily_requests || 0, monthly_units: key.cap?.monthly_units || 0 })) {
        await call('PUT', `/v1/keys/${key.key_id}/cap`, caps);
      }
      const expiresAt = expires.value ? utcInput(expires.value) : null;
      if (expiresAt !== (key.expires_at || null)) {
        await call('PUT', `/v1/keys/${key.key_id}/expiry`, { expires_at: expiresAt });
      }
      if (!child && topUp.value !== '' && Number(topUp.value) !== 0) {
        await call('POST', `/v1/keys/${key.key_id}/credits`, { units: Number(topUp.value), reason: reason.value });
      }
      const refillNow = refillPeriod.value
        ? { refill_units: value(refillUnits), refill_period: refillPeriod.value, rollover: rollover.checked } : {};
      const refillBefore = refill ? { refill_units: refill.units, refill_period: refill.period, rollover: refill.rollover } : {};
      if (!child && !same(refillNow, refillBefore)) {
        await call('PUT', `/v1/keys/${key.key_id}/credits`, refillNow);
      }
      dialog.close();
      notify(`Limits of ${nameOfKey(key)} saved.`);
      await refresh();
    } catch (err) {
      showError(errors, err, 'Not saved');
    }
  });
}

function inviteForm(keys, refresh) {
  const roots = keys.filter((k) => !k.parent && k.status !== 'deleted');
  const label = h('input', { name: 'label', type: 'text', autocomplete: 'off', placeholder: 'member@example.com' });
  const parent = select('parent', [['', '— none: a new root key —'], ...roots.map((k) => [k.key_id, nameOfKey(k)])], roots[0]?.key_id || '');
  const status = select('status', [['pending', 'pending (invited)'], ['active', 'active']], 'pending');
  const errors = h('div', { class: 'errors' });
  const form = h('form', { class: 'invite controls', novalidate: true },
    field('Member e-mail or name', label), field('Parent', parent), field('Status', status),
    h('button', { type: 'submit', text: 'Invite member' }), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await call('POST', '/v1/keys', { label: label.value, parent: parent.value, status: status.value });
      showError(errors, null);
      if (r.status === 202) notify('Accepted: keymeter will apply it shortly.');
      await showKeyOnce(`Key of ${label.value}`, r.body.key, `Key id ${r.body.key_id}: send the key to the member.`);
      await refresh();
    } catch (err) {
      showError(errors, err, 'Not invited');
    }
  });
  return form;
}

function pools(data) {
  const roots = data.keys.filter((k) => !k.parent && k.status !== 'deleted');
  const sum = (map, root, field) => data.keys.filter((k) => rootOf(k) === root.key_id)
    .reduce((n, k) => n + (map.get(k.key_id)?.[field] || 0), 0);
  return h('div', { class: 'pools' }, roots.map((root) => h('div', { class: 'pool', dataset: { key: root.key_id } },
    h('h3', {}, `Pool of ${nameOfKey(root)}`, ' ', statusBadge(root.status),
      h('span', { class: 'hint', text: ` ${root.children} member${root.children === 1 ? '' : 's'}` })),
    gauge({ label: 'Today', used: sum(data.today, root, 'requests'), limit: root.quota?.daily_requests, unit: 'requests', reset: nextDay() }),
    gauge({ label: 'This month', used: sum(data.month, root, 'units'), limit: root.quota?.monthly_units, unit: 'units', reset: nextMonth() }),
    poolLimits(root))));
}

function membersTable(data, errors, refresh) {
  const byId = new Map(data.keys.map((k) => [k.key_id, k]));
  const act = (key, verb, fn, done) => async (e) => {
    if (e.currentTarget) e.currentTarget.disabled = true;
    try {
      await fn();
      showError(errors, null);
      if (done) notify(done);
      await refresh();
    } catch (err) {
      showError(errors, err, `${verb} ${nameOfKey(key)}`);
      await refresh(false);
    }
  };
  const button = (key, action, text, handler, cls = 'secondary') =>
    h('button', { type: 'button', class: `small ${cls}`, dataset: { action }, 'aria-label': `${text} ${nameOfKey(key)}`, text, onclick: handler });
  const actions = (k) => {
    if (k.status === 'deleted') return h('span', { class: 'hint', text: 'deleted: history kept' });
    const post = (op) => () => call('POST', `/v1/keys/${k.key_id}/${op}`);
    return h('div', { class: 'actions' },
      button(k, 'rotate', 'Rotate', async () => {
        if (!await confirmDialog('Rotate key', `Give ${nameOfKey(k)} a new secret? The old one stops working at once.`, 'Rotate')) return;
        try {
          const r = await call('POST', `/v1/keys/${k.key_id}/rotate`, { grace_seconds: 0 });
          showError(errors, null);
          await showKeyOnce(`New key of ${nameOfKey(k)}`, r.body.key);
          await refresh();
        } catch (err) {
          showError(errors, err, `Rotate ${nameOfKey(k)}`);
        }
      }),
      k.status === 'pending' ? button(k, 'confirm', 'Confirm', act(k, 'Confirm', post('confirm'), `${nameOfKey(k)} confirmed.`)) : null,
      k.status === 'suspended'
        ? button(k, 'activate', 'Activate', act(k, 'Activate', post('activate'), `${nameOfKey(k)} activated.`))
        : button(k, 'suspend', 'Suspend', act(k, 'Suspend', post('suspend'), `${nameOfKey(k)} suspended.`)),
      button(k, 'parent', 'Parent…', () => parentDialog(k, data.keys, refresh)),
      button(k, 'sources', 'Sources…', () => sourcesDialog(k, refresh)),
      button(k, 'limits', 'Limits…', () => limitsDialog(k, refresh)),
      button(k, 'delete', 'Delete', async (e) => {
        const target = e.currentTarget;  // gone from the event once the dialog has been awaited
        if (!await confirmDialog('Delete key', `Delete ${nameOfKey(k)} for good? It never authorizes again; its usage and history stay.`, 'Delete')) return;
        await act(k, 'Delete', () => call('DELETE', `/v1/keys/${k.key_id}`), `${nameOfKey(k)} deleted.`)({ currentTarget: target });
      }, 'danger'));
  };
  const usageToday = (k) => {
    const used = data.today.get(k.key_id)?.requests || 0;
    const pool = byId.get(rootOf(k))?.quota?.daily_requests;
    const cap = k.cap?.daily_requests;
    const rate = k.parent ? rateText(k.rate_limits) : '';
    return h('span', {}, number(used), pool ? ` / ${number(pool)} pool` : ' / unlimited',
      cap ? h('span', { class: 'hint', text: ` (cap ${number(cap)})` }) : null,
      rate ? h('span', { class: 'hint', text: ` (${rate})` }) : null,
      k.effective_expires_at ? h('span', { class: 'hint', text: ` expires ${time(k.effective_expires_at)}` }) : null);
  };
  return table([
    { label: 'Member', cell: (k) => h('span', { class: 'label', text: k.label || '(no label)' }) },
    { label: 'Key id', cell: (k) => h('code', { text: k.key_id }) },
    { label: 'Parent', cell: (k) => (k.parent ? nameOfKey(byId.get(k.parent) || { key_id: k.parent }) : h('span', { class: 'hint', text: 'root' })) },
    { label: 'Status', cell: (k) => statusBadge(k.status) },
    { label: 'Created', cell: (k) => time(k.created) },
    { label: 'Last request', cell: (k) => time(data.last.get(k.key_id)) },
    { label: 'Today vs. pool', class: 'num', cell: usageToday },
    { label: 'Actions', cell: actions },
  ], data.keys, { empty: 'No keys yet: invite the first member above.', rowProps: (k) => ({ dataset: { key: k.key_id, status: k.status } }) });
}

// Draws the tab into `root`.
export async function renderMembers(root) {
  const errors = h('div', { class: 'errors', id: 'members-errors' });
  const body = h('div', {});
  root.replaceChildren(body);
  // `clear`: drop the error shown by the last action (false keeps it).
  const refresh = async (clear = true) => {
    try {
      const data = await load();
      if (clear) showError(errors, null);
      body.replaceChildren(
        section('Quota pools', pools(data)),
        section('Invite a member', inviteForm(data.keys, refresh)),
        section('Members', errors, membersTable(data, errors, refresh)));
    } catch (err) {
      body.replaceChildren(refusedPanel('Members', err));
    }
  };
  await refresh();
}
