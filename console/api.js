// The console's only backend is keymeter's public HTTP API (docs/api.md). This module holds the
// credential (sessionStorage only: gone when the tab closes, never in a URL or a cookie) and
// turns every answer that is not 2xx into an ApiError carrying the API's code and message.

const STORAGE_KEY = 'keymeter.console.credential';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function credential() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function setCredential(value) {
  if (value) sessionStorage.setItem(STORAGE_KEY, value);
  else sessionStorage.removeItem(STORAGE_KEY);
}

// A member key is 24 characters of [A-Za-z0-9]; anything else is taken for an admin token.
export function looksLikeMemberKey(value) {
  return /^[A-Za-z0-9]{24}$/.test(value);
}

// Calls `method path` with the stored credential and an optional JSON body. Resolves to
// {status, body} for 2xx (body parsed when JSON, null otherwise); rejects with ApiError.
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = credential();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `keymeter did not answer (${e.message})`);
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = parsed && parsed.error;
    if (error && typeof error === 'object') {
      throw new ApiError(response.status, error.code, error.message);
    }
    throw new ApiError(response.status, `HTTP_${response.status}`, text.slice(0, 200));
  }
  return { status: response.status, body: parsed };
}

export const get = (path) => call('GET', path).then((r) => r.body);

// "?a=1&b=x" from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') q.set(name, value);
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}
