// DOM helpers shared by the views: element builders, formatting (every time shown in UTC),
// error and notice display, dialogs (confirm, show-a-key-or-secret-once).

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// h('button', {class: 'x', onclick: f}, 'Label') — an HTML element.
export const h = (tag, props, ...children) => build(document.createElement(tag), props, children);
// svg('rect', {x: 0, ...}) — an SVG element.
export const svg = (tag, props, ...children) =>
  build(document.createElementNS(SVG_NS, tag), props, children);

export const number = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

// Rate limits as "50/s · 1,000/h"; '' when none.
export function rateText(rate) {
  return [['per_second', 's'], ['per_minute', 'min'], ['per_hour', 'h']]
    .filter(([f]) => rate?.[f]).map(([f, unit]) => `${number(rate[f])}/${unit}`).join(' · ');
}

// "2026-11-25 10:00 UTC" (seconds with `seconds`).
export function time(iso, seconds = false) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const text = d.toISOString().replace('T', ' ').slice(0, seconds ? 19 : 16);
  return `${text} UTC`;
}

// The value of an <input type="datetime-local"> read as UTC, as RFC 3339; '' when empty.
export function utcInput(value) {
  if (!value) return '';
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

// A status shown as a word and a glyph, so it never depends on colour alone.
const STATUS_GLYPH = { active: '●', pending: '◌', suspended: '‖', deleted: '✕' };
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, dataset: { status } },
    h('span', { 'aria-hidden': 'true', text: STATUS_GLYPH[status] || '?' }), ` ${status}`);
}

// The API's refusal, as the API said it: code, HTTP status and message.
export function errorBox(error, prefix = '') {
  const code = error.code || 'ERROR';
  const status = error.status ? ` (HTTP ${error.status})` : '';
  return h('div', { class: 'error', role: 'alert', dataset: { code } },
    prefix ? `${prefix}: ` : '', h('strong', { class: 'code', text: code }), `${status}: `,
    h('span', { class: 'message', text: error.message || '' }));
}

// Shows `error` (or clears) in `slot`, an element kept for a form's or a section's errors.
export function showError(slot, error, prefix) {
  slot.replaceChildren(error ? errorBox(error, prefix) : '');
}

// A short-lived notice in the page's live region.
export function notify(text) {
  const region = document.getElementById('notices');
  const item = h('p', { class: 'notice', text });
  region.append(item);
  setTimeout(() => item.remove(), 4000);
}

function openDialog(content, { onclose } = {}) {
  const dialog = h('dialog', { class: 'dialog' }, content);
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onclose) onclose(dialog.returnValue);
  });
  dialog.showModal();
  return dialog;
}

// Resolves true when the user confirms `question`.
export function confirmDialog(title, question, confirmLabel = 'Confirm') {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog' },
      h('h2', { text: title }), h('p', { text: question }),
      h('div', { class: 'buttons' },
        h('button', { value: 'cancel', type: 'submit', class: 'secondary', text: 'Cancel' }),
        h('button', { value: 'ok', type: 'submit', class: 'danger', text: confirmLabel })));
    openDialog(form, { onclose: (value) => resolve(value === 'ok') });
  });
}

// Shows a plain key (or a webhook's signing secret: `what` names it, `once` says why it is shown
// only now) exactly once, with a copy button; it is not kept anywhere after closing.
const KEY_ONCE = 'This is the only time the key is shown: copy it now. keymeter keeps only its hash.';
export function showKeyOnce(title, key, note, { what = 'API key', once = KEY_ONCE } = {}) {
  const input = h('input', { class: 'plain-key', readonly: true, value: key, 'aria-label': what,
    spellcheck: 'false', size: 26 });
  const copied = h('span', { class: 'copied', role: 'status' });
  const copy = h('button', { type: 'button', class: 'copy', text: 'Copy',
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(key);
      } catch {
        document.execCommand('copy');
      }
      copied.textContent = 'Copied';
    } });
  return new Promise((resolve) => {
    openDialog(h('form', { method: 'dialog', class: 'key-once' },
      h('h2', { text: title }),
      h('p', { class: 'once', text: once }),
      note ? h('p', { text: note }) : null,
      h('div', { class: 'key-row' }, input, copy, copied),
      h('div', { class: 'buttons' }, h('button', { type: 'submit', text: 'Done' }))),
    { onclose: () => resolve() });
  });
}

// A panel saying that the API refused a page's first read, and why (a member's key on an admin
// page: 403 FORBIDDEN).
export function refusedPanel(title, error) {
  const box = h('div', { class: 'errors' }, errorBox(error, 'The API refused'));
  return section(title, box, error.status === 403
    ? h('p', { class: 'hint', text: 'Only the account\'s admin token reaches this page; a member key sees only its own key (My key).' })
    : null);
}

// A titled section with a slot for errors; `body` is appended under the title.
export function section(title, ...body) {
  return h('section', { class: 'panel' }, h('h2', { text: title }), ...body);
}

// The table of `rows` with `columns` [{label, cell(row) → Node|string, class}]; cards on phones
// (each cell carries its column's label).
export function table(columns, rows, { empty = 'Nothing yet.', rowProps } = {}) {
  if (!rows.length) return h('p', { class: 'empty', text: empty });
  return h('table', { class: 'data' },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class, text: c.label })))),
    h('tbody', {}, rows.map((row) => h('tr', rowProps ? rowProps(row) : {},
      columns.map((c) => h('td', { 'data-label': c.label, class: c.class }, c.cell(row)))))));
}

// A <label> wrapping a control, with its text.
export const field = (text, control) => h('label', { class: 'field' }, h('span', { text }), control);

export function select(name, options, selected) {
  return h('select', { name }, options.map(([value, text]) =>
    h('option', { value, selected: value === selected, text })));
}
