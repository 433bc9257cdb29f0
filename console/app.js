// The console's shell: sign-in (an admin token or a member key, kept in sessionStorage only),
// the role's navigation and the hash routes:
//   #/admin/members  #/admin/usage  #/admin/requests  #/admin/audit
//   #/admin/alerts  #/admin/webhooks                                  (account admin)
//   #/me                                                              (member)
// A member who opens an admin route gets the admin page's API calls refused (403 FORBIDDEN),
// and the page shows that refusal.

import { ApiError, credential, get, looksLikeMemberKey, setCredential } from './api.js';
import { ADMIN_TABS, renderAdmin } from './admin.js';
import { renderMember } from './member.js';
import { h, field, showError } from './ui.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const roleOf = (token) => (looksLikeMemberKey(token) ? 'member' : 'admin');

function signInForm() {
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'kmt_… admin token, or a 24-character member key' });
  const errors = h('div', { class: 'errors' });
  const form = h('form', { class: 'signin panel', novalidate: true },
    h('h2', { text: 'Sign in' }),
    h('p', { text: 'Paste your account\'s admin token to manage its members, or your own member key to see your key, usage and requests.' }),
    field('Admin token or member key', input), errors,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', text: 'Sign in' })),
    h('p', { class: 'hint', text: 'Kept in this tab\'s session storage only: closing the tab signs you out.' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return showError(errors, new ApiError(0, 'MISSING_CREDENTIAL', 'paste a token or a key'));
    setCredential(token);
    try {
      await get(roleOf(token) === 'member' ? '/v1/me' : '/v1/keys');
      input.value = '';
      const target = roleOf(token) === 'member' ? '#/me' : '#/admin/members';
      if (location.hash === target) render();
      else location.hash = target;
    } catch (err) {
      setCredential(null);
      showError(errors, err, 'Not signed in');
    }
  });
  return form;
}

function signOut() {
  setCredential(null);
  history.replaceState(null, '', location.pathname);
  render();
}

function drawNav(role, route) {
  const links = role === 'admin' ? ADMIN_TABS.map(([tab, text]) => [`#/admin/${tab}`, text]) : [['#/me', 'My key']];
  nav.replaceChildren(...links.map(([href, text]) =>
    h('a', { href, text, 'aria-current': href === route ? 'page' : false })));
  who.replaceChildren(
    h('span', { class: 'role', text: role === 'admin' ? 'Account admin' : `Member ${credential().slice(0, 8)}` }),
    h('button', { type: 'button', class: 'secondary small', id: 'sign-out', text: 'Sign out', onclick: signOut }));
}

let generation = 0;  // the latest render() wins when several overlap

async function render() {
  const mine = ++generation;
  delete main.dataset.ready;
  const token = credential();
  if (!token) {
    nav.replaceChildren();
    who.replaceChildren();
    main.replaceChildren(signInForm());
    document.title = 'keymeter console — sign in';
    main.dataset.ready = 'signin';
    return;
  }
  const role = roleOf(token);
  let route = location.hash;
  if (!route.startsWith('#/admin/') && route !== '#/me') {
    route = role === 'admin' ? '#/admin/members' : '#/me';
    history.replaceState(null, '', route);
  }
  drawNav(role, route);
  main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
  const view = h('div', { class: 'view', dataset: { route } });
  if (route === '#/me') {
    document.title = 'keymeter console — my key';
    await renderMember(view);
  } else {
    const tab = route.slice('#/admin/'.length);
    document.title = `keymeter console — ${tab}`;
    await renderAdmin(view, ADMIN_TABS.some(([t]) => t === tab) ? tab : 'members');
  }
  if (mine !== generation) return;
  main.replaceChildren(view);
  main.dataset.ready = route;
}

window.addEventListener('hashchange', render);
render();
