// The request log and the audit history, with filters and paging (newest first; "Older" follows
// the API's next_cursor, "Newer" goes back through the cursors already seen).

import { call, get, query } from './api.js';
import { h, number, notify, time, showError, field, select, table, utcInput } from './ui.js';

// A paged list (also the webhooks' delivery log). `filters` are form controls;
// `fetchPage(form data, cursor)` resolves to {rows, next_cursor}; `columns` render the rows,
// `rowProps(row)` gives each <tr> its attributes.
export function pagedList({ filters, fetchPage, columns, empty, name, rowProps }) {
  const form = h('form', { class: 'controls filters', novalidate: true }, filters,
    h('button', { type: 'submit', text: 'Apply' }));
  const errors = h('div', { class: 'errors' });
  const body = h('div', { class: 'list-body' });
  const pageInfo = h('span', { class: 'page-info' });
  const newer = h('button', { type: 'button', class: 'secondary', text: '← Newer' });
  const older = h('button', { type: 'button', class: 'secondary', text: 'Older →' });
  let cursors = [''];  // cursor of each page seen; the last is the current one
  let next = null;
  const load = async () => {
    try {
      const page = await fetchPage(new FormData(form), cursors[cursors.length - 1]);
      showError(errors, null);
      next = page.next_cursor;
      body.replaceChildren(table(columns, page.rows, { empty, rowProps }));
      pageInfo.textContent = `page ${cursors.length}, ${page.rows.length} ${name}`;
      newer.disabled = cursors.length === 1;
      older.disabled = !next;
    } catch (e) {
      showError(errors, e, 'The API refused');
      body.replaceChildren();
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors = [''];
    load();
  });
  newer.addEventListener('click', () => { cursors.pop(); load(); });
  older.addEventListener('click', () => { if (next) { cursors.push(next); load(); } });
  load();
  return h('div', { class: 'paged' }, form, errors, body, h('nav', { class: 'pager', 'aria-label': `${name} pages` }, newer, pageInfo, older));
}

const timeFilters = () => [
  field('From (UTC)', h('input', { type: 'datetime-local', name: 'from' })),
  field('To (UTC)', h('input', { type: 'datetime-local', name: 'to' })),
];

export const statusText = (s) => h('span', { class: `http-status s${String(s)[0]}xx`, text: String(s) });

// The request log at `path` (/v1/requests or /v1/me/requests). `members`: [[key id, label]]
// for a member filter (admin only); `nameOf(id)` shows a key.
export function requestLog({ path, members, nameOf = (id) => id }) {
  const filters = [];
  if (members) filters.push(field('Member', select('key', [['', 'every member'], ...members], '')));
  filters.push(
    field('Status', select('status', [['', 'any'], ['2xx', '2xx'], ['3xx', '3xx'], ['4xx', '4xx'], ['5xx', '5xx']], '')),
    ...timeFilters(),
    field('Per page', select('limit', [['20', '20'], ['50', '50'], ['100', '100']], '20')));
  return pagedList({
    name: 'requests',
    filters,
    empty: 'No requests match.',
    fetchPage: async (data, cursor) => {
      const r = await get(path + query({ key: data.get('key'), status: data.get('status'),
        from: utcInput(data.get('from')), to: utcInput(data.get('to')), limit: data.get('limit'), cursor }));
      return { rows: r.requests, next_cursor: r.next_cursor };
    },
    columns: [
      { label: 'Time', cell: (r) => time(r.time, true) },
      { label: 'Member', cell: (r) => nameOf(r.key_id) },
      { label: 'Product', cell: (r) => r.product || '—' },
      { label: 'Status', cell: (r) => statusText(r.status) },
      { label: 'Units', class: 'num', cell: (r) => number(r.units) },
      { label: 'Latency', class: 'num', cell: (r) => `${number(Math.round(r.latency_us / 1000))} ms` },
      { label: 'IP', cell: (r) => r.ip || '—' },
    ],
  });
}

// The audit history (GET /v1/audit), filtered by member.
export function auditLog({ members, nameOf }) {
  return pagedList({
    name: 'entries',
    filters: [field('Member', select('key', [['', 'every key'], ...members], '')), ...timeFilters(),
      field('Per page', select('limit', [['20', '20'], ['50', '50'], ['100', '100']], '20'))],
    empty: 'No audit entries match.',
    fetchPage: async (data, cursor) => {
      const r = await get('/v1/audit' + query({ key: data.get('key'), from: utcInput(data.get('from')),
        to: utcInput(data.get('to')), limit: data.get('limit'), cursor }));
      return { rows: r.entries, next_cursor: r.next_cursor };
    },
    columns: [
      { label: 'Time', cell: (e) => time(e.time, true) },
      { label: 'Actor', cell: (e) => e.actor.key_id ? `${e.actor.kind} ${e.actor.key_id}` : e.actor.kind },
      { label: 'Operation', cell: (e) => e.op },
      { label: 'Key', cell: (e) => e.key_id ? nameOf(e.key_id) : '—' },
      { label: 'Outcome', cell: (e) => h('span', { class: e.outcome === 'OK' ? 'outcome ok' : 'outcome refused', text: e.outcome === 'OK' ? '✓ OK' : `✕ ${e.outcome}` }) },
      { label: 'Detail', cell: (e) => e.detail || '' },
    ],
  });
}

// Alert thresholds (PUT /v1/keys/{id}/alerts): a key's percents of its pool's quota (a root key)
// or of its member cap (a child), "50, 80, 100"; empty turns them off.
export function thresholdsForm({ keys, nameOf, onSet }) {
  const keyField = select('key', keys.map((k) => [k.key_id, nameOf(k.key_id)]), keys[0]?.key_id || '');
  const percents = h('input', { name: 'percents', type: 'text', placeholder: 'e.g. 50, 80, 100' });
  const errors = h('div', { class: 'errors' });
  const current = h('p', { class: 'hint thresholds-now' });
  const show = () => {
    const key = keys.find((k) => k.key_id === keyField.value);
    const list = key?.alert_thresholds || [];
    current.textContent = `${nameOf(keyField.value)}: ${list.length ? list.map((p) => `${p} %`).join(', ') : 'no thresholds'}` +
      (key?.parent ? ' of its member cap' : ' of its pool\'s quota');
  };
  keyField.addEventListener('change', show);
  show();
  const form = h('form', { class: 'controls thresholds', novalidate: true },
    field('Key', keyField), field('Thresholds (%)', percents), h('button', { type: 'submit', text: 'Set thresholds' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const list = percents.value.split(/[\s,%]+/).filter(Boolean).map(Number);
    try {
      const r = await call('PUT', `/v1/keys/${keyField.value}/alerts`, { percents: list });
      showError(errors, null);
      Object.assign(keys.find((k) => k.key_id === keyField.value), r.body);
      show();
      notify('Alert thresholds set');
      if (onSet) onSet();
    } catch (err) {
      showError(errors, err, 'The API refused');
    }
  });
  return h('div', {}, form, current, errors);
}

// The threshold alerts (GET /v1/alerts), filtered by key.
export function alertLog({ members, nameOf }) {
  return pagedList({
    name: 'alerts',
    filters: [field('Key', select('key', [['', 'every key'], ...members], '')),
      field('Per page', select('limit', [['20', '20'], ['50', '50'], ['100', '100']], '20'))],
    empty: 'No alerts yet.',
    fetchPage: async (data, cursor) => {
      const r = await get('/v1/alerts' + query({ key: data.get('key'), limit: data.get('limit'), cursor }));
      return { rows: r.alerts, next_cursor: r.next_cursor };
    },
    columns: [
      { label: 'Time', cell: (a) => time(a.time, true) },
      { label: 'Alert', cell: (a) => h('span', { class: a.type === 'threshold.crossed' ? 'outcome refused' : 'outcome ok', text: a.type }) },
      { label: 'Key', cell: (a) => nameOf(a.key_id) },
      { label: 'Threshold', cell: (a) => `${a.percent} % of ${a.metric.replaceAll('_', ' ')}` },
      { label: 'Count', class: 'num', cell: (a) => `${number(a.value)} of ${number(a.limit)}` },
      { label: 'Window', cell: (a) => time(a.window_start) },
    ],
  });
}
