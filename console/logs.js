// The request log and the audit history, with filters and paging (newest first; "Older" follows
// the API's next_cursor, "Newer" goes back through the cursors already seen).

import { get, query } from './api.js';
import { h, number, time, showError, field, select, table, utcInput } from './ui.js';

// A paged list. `filters` are form controls; `fetchPage(form data, cursor)` resolves to
// {rows, next_cursor}; `columns` render the rows.
function pagedList({ filters, fetchPage, columns, empty, name }) {
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
      body.replaceChildren(table(columns, page.rows, { empty }));
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

const statusText = (s) => h('span', { class: `http-status s${String(s)[0]}xx`, text: String(s) });

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
