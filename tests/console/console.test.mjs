// The web console (console/) in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), against a real `keymeter serve` on the embedded log:
//
//   node tests/console/console.test.mjs <keymeter binary> <artifacts dir>
//
// The operator API creates an account with a root key (quota, config); in the browser the admin
// signs in, is refused an empty label (the API's INVALID_FIELD), invites a member and sees its
// key once, confirms, suspends and reactivates it, reads its usage after traffic from
// POST /v1/events, sets a member's rate limit and expiry and the pool's credits and refill (and is
// refused a negative limit), filters and pages the request log, reads the audit, sets alert
// thresholds and reads the alerts; on the webhooks tab is refused an ftp:// URL (INVALID_FIELD),
// registers a webhook aimed at a local receiver that answers 500 and sees its signing secret once,
// watches both alerts' deliveries fail after retries (the receiver checks their signatures with
// that secret) and deletes it; is refused a delete (KEY-HAS-CHILDREN) and rotates the member's key. The member signs in with it, sees its own
// key, inherited config, its own limits, credits left and expiry, usage and requests, is refused an invalid CIDR (INVALID-CIDR), cannot
// reach the admin pages (403 FORBIDDEN, shown), and rotates its own key. Screenshots of each
// view go to the artifacts dir. Exit 0 on success, 1 with the failed step on stderr.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

if (Number(process.versions.node.split('.')[0]) < 20) {
  console.error(`console.test.mjs needs Node >= 20 (playwright-core 1.65); this is ${process.version}`);
  process.exit(1);
}
const [binary, artifacts] = process.argv.slice(2);
if (!binary || !artifacts) {
  console.error('usage: console.test.mjs <keymeter binary> <artifacts dir>');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });
// The steps post traffic dated up to a second back and read "today's" usage and alerts: a run
// that straddles midnight UTC would see the day split. Started within 3 minutes before or
// 90 s after midnight, the test waits until 00:01:30 UTC.
{
  const sinceMidnight = Date.now() % 86400e3;
  if (sinceMidnight > 86400e3 - 180e3 || sinceMidnight < 90e3) {
    const wait = (90e3 - sinceMidnight + 86400e3) % 86400e3;
    console.log(`waiting ${Math.round(wait / 1000)} s for midnight UTC to pass`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'keymeter-console-test-'));
const OPERATOR = `op-${randomUUID()}`;
const timeout = 15000;

// keymeter serve on a free port, embedded log (every KEYMETER_ variable of the caller dropped:
// scripts/test exports KEYMETER_BROKERS for the Kafka tests). Webhooks may go to 127.0.0.1 (the
// receiver below) and are retried 200 ms after a failed attempt, doubling, for 6 s after their
// alert (an attempt waits for the last one to be applied: about a second apart here).
function startServe() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KEYMETER_')));
  env.KEYMETER_OPERATOR_TOKEN = OPERATOR;
  env.KEYMETER_WEBHOOK_ALLOW_PRIVATE = 'true';
  env.KEYMETER_WEBHOOK_RETRY_BASE_MS = '200';
  env.KEYMETER_WEBHOOK_RETRY_FOR_S = '6';
  const child = spawn(binary, ['serve', '--data-dir', path.join(temp, 'db'), '--listen', '127.0.0.1:0',
    '--http-threads', '2'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('keymeter serve did not start in 60 s')), 60000);
    child.on('exit', (code) => reject(new Error(`keymeter serve exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/keymeter listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] });
      }
    });
  });
}

const { child, base } = await startServe();
process.on('exit', () => child.kill('SIGTERM'));

// A webhook receiver that is down: every delivery gets a 500, so keymeter retries, then fails it.
const hooks = [];  // {headers, body} of each request received
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    hooks.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('receiver down');
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

async function api(method, target, token, body, type = 'application/json') {
  const r = await fetch(base + target, { method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...(body !== undefined ? { 'Content-Type': type } : {}) }, body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

async function until(what, fn, ms = timeout) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let page;
let current = '';
const done = [];
async function step(name, fn) {
  current = name;
  const started = Date.now();
  await fn();
  done.push(name);
  console.log(`ok ${done.length} - ${name} (${Date.now() - started} ms)`);
}
// Notices (toasts) fade after 4 s; they are cleared before a shot so that it shows its view
// (not with screenshot's `style` option: that injects an inline <style>, which the CSP refuses).
async function shot(name) {
  await page.evaluate(() => document.getElementById('notices')?.replaceChildren());
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

let browser;
let exitCode = 0;
try {
  await step('console files: content types, CSP, nosniff, cache headers, 308, 304, 404', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/console/');
    const index = await fetch(`${base}/console/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = index.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    const etag = index.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const again = await fetch(`${base}/console/`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'], ['style.css', 'text/css; charset=utf-8']]) {
      const r = await fetch(`${base}/console/${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('content-type'), type, file);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', file);
    }
    for (const missing of ['nope.js', '..%2Fapi_console.cc', 'README.md']) {
      const r = await api('GET', `/console/${missing}`);
      assert.equal(r.status, 404, missing);
      assert.equal(r.json.error.code, 'NOT_FOUND', missing);
    }
  });

  let admin, owner;
  await step('operator creates an account; its root key gets a quota and a config', async () => {
    const account = await api('POST', '/v1/accounts', OPERATOR, { name: 'Console Co' });
    assert.equal(account.status, 201, account.text);
    admin = account.json.admin_token;
    const issued = await api('POST', '/v1/keys', admin, { label: 'owner@console.test', status: 'active' });
    assert.equal(issued.status, 201, issued.text);
    owner = issued.json.key_id;
    assert.equal((await api('PUT', `/v1/keys/${owner}/quota`, admin, { daily_requests: 1000, monthly_units: 50000 })).status, 200);
    assert.equal((await api('PUT', `/v1/keys/${owner}/config`, admin, { products: ['whois', 'dns'], settings: { tier: 'gold' } })).status, 200);
  });

  const userData = fs.mkdtempSync(path.join(temp, 'chromium-'));
  browser = await chromium.launchPersistentContext(userData, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(timeout);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Refused API calls are logged by Chromium as "Failed to load resource": expected here.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  const ready = (route) => page.waitForSelector(`#main[data-ready="${route}"]`);
  const errorCode = async (scope) => (await page.waitForSelector(`${scope} .error .code`)).textContent();
  const row = (id) => `tr[data-key="${id}"]`;

  await step('sign-in page; a wrong token shows the API\'s 401 UNAUTHORIZED', async () => {
    await page.goto(`${base}/console`);
    await ready('signin');
    await shot('01-signin');
    await page.fill('input[name=credential]', 'kmt_not-a-token');
    await page.click('form.signin button[type=submit]');
    assert.equal(await errorCode('form.signin'), 'UNAUTHORIZED');
  });

  await step('admin signs in; the token is in sessionStorage only, never in the URL or a cookie', async () => {
    await page.fill('input[name=credential]', admin);
    await page.click('form.signin button[type=submit]');
    await ready('#/admin/members');
    await page.waitForSelector(row(owner));
    assert.ok(!page.url().includes(admin));
    const storage = await page.evaluate(() => [Object.values(sessionStorage), localStorage.length, document.cookie]);
    assert.deepEqual(storage, [[admin], 0, '']);
    assert.equal((await browser.cookies()).length, 0);
  });

  await step('an empty label shows the API\'s INVALID_FIELD and message', async () => {
    await page.fill('form.invite input[name=label]', '');
    await page.click('form.invite button[type=submit]');
    assert.equal(await errorCode('form.invite'), 'INVALID_FIELD');
    assert.match(await page.textContent('form.invite .error .message'), /label/);
    assert.match(await page.textContent('form.invite .error'), /HTTP 400/);
  });

  let dev, devKey;
  await step('admin invites a member under the root and sees its key once, with a copy button', async () => {
    await page.fill('form.invite input[name=label]', 'dev@console.test');
    assert.equal(await page.inputValue('form.invite select[name=parent]'), owner);
    await page.click('form.invite button[type=submit]');
    devKey = await (await page.waitForSelector('dialog .plain-key')).inputValue();
    assert.match(devKey, /^[A-Za-z0-9]{24}$/);
    dev = devKey.slice(0, 8);
    await page.click('dialog button.copy');
    await page.waitForSelector('dialog .copied:text("Copied")');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), devKey);
    await shot('03-admin-key-once');
    await page.click('dialog button[type=submit]');
    await page.waitForSelector(`${row(dev)}[data-status="pending"]`);
    assert.ok(!(await page.content()).includes(devKey), 'the key is gone once the dialog closes');
    assert.match(await page.textContent(row(dev)), /owner@console\.test/);
  });

  await step('admin confirms, suspends and reactivates the member (reflected without reload)', async () => {
    const pageId = await page.evaluate(() => (window.__loadMark = Math.random()));
    await page.click(`${row(dev)} button[data-action=confirm]`);
    await page.waitForSelector(`${row(dev)}[data-status="active"]`);
    await page.click(`${row(dev)} button[data-action=suspend]`);
    await page.waitForSelector(`${row(dev)}[data-status="suspended"]`);
    assert.equal((await api('GET', `/v1/keys/${dev}`, admin)).json.status, 'suspended');
    const denied = await api('POST', '/v1/authorize', null, { key: devKey, product: 'whois' });
    assert.equal(denied.json.reason, 'SUSPENDED');
    await page.click(`${row(dev)} button[data-action=activate]`);
    await page.waitForSelector(`${row(dev)}[data-status="active"]`);
    assert.equal((await api('GET', `/v1/keys/${dev}`, admin)).json.status, 'active');
    assert.equal(await page.evaluate(() => window.__loadMark), pageId, 'no page reload');
  });

  await step('alerts tab: the admin sets thresholds of 1 % and 2 % of the pool\'s quota', async () => {
    await page.click('#nav a[href="#/admin/alerts"]');
    await ready('#/admin/alerts');
    await page.selectOption('.thresholds select[name=key]', owner);
    await page.fill('.thresholds input[name=percents]', '150');
    await page.click('.thresholds button[type=submit]');
    assert.equal(await errorCode('.thresholds + .thresholds-now + .errors'), 'INVALID_FIELD');
    await page.fill('.thresholds input[name=percents]', '2, 1');
    await page.click('.thresholds button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.thresholds-now')?.textContent.includes('1 %, 2 %'));
    assert.deepEqual((await api('GET', `/v1/keys/${owner}`, admin)).json.alert_thresholds, [1, 2]);
    await page.waitForSelector('.paged .list-body');
    assert.equal(await page.textContent('.paged .page-info'), 'page 1, 0 alerts');
  });

  let webhook, secret;
  await step('webhooks tab: an ftp:// URL shows the API\'s INVALID_FIELD; a webhook is registered, its secret shown once', async () => {
    await page.click('#nav a[href="#/admin/webhooks"]');
    await ready('#/admin/webhooks');
    assert.equal(await page.textContent('.webhooks-list'), 'No webhooks yet: register one above.');
    const boxes = await page.$$eval('form.webhook-new input[name=events]', (bs) => bs.map((b) => [b.value, b.checked]));
    assert.deepEqual(boxes, [['threshold.crossed', true], ['threshold.resolved', true]]);
    await page.fill('form.webhook-new input[name=url]', 'ftp://x');
    await page.click('form.webhook-new button[type=submit]');
    assert.equal(await errorCode('form.webhook-new'), 'INVALID_FIELD');
    assert.match(await page.textContent('form.webhook-new .error .message'), /^url: /);
    assert.match(await page.textContent('form.webhook-new .error'), /HTTP 400/);
    await page.fill('form.webhook-new input[name=url]', hookUrl);
    await page.click('form.webhook-new button[type=submit]');
    secret = await (await page.waitForSelector('dialog .plain-key')).inputValue();
    assert.match(secret, /^whsec_[0-9a-f]{64}$/);
    assert.match(await page.textContent('dialog .once'), /Copy it now, it is not shown again/);
    assert.match(await page.textContent('dialog'), new RegExp(`go to ${hookUrl}`));
    await shot('06c-admin-webhook-secret');
    await page.click('dialog button[type=submit]');
    webhook = await (await page.waitForSelector('.webhooks-list tr[data-webhook]')).getAttribute('data-webhook');
    assert.match(webhook, /^wh_/);
    assert.equal(await page.$$eval('form.webhook-new .error', (es) => es.length), 0, 'the refusal is cleared');
    assert.equal(await page.inputValue('form.webhook-new input[name=url]'), '');
    const cells = await page.$$eval(`tr[data-webhook="${webhook}"] td`, (tds) => Object.fromEntries(tds.map((td) => [td.dataset.label, td.textContent])));
    assert.equal(cells.URL, hookUrl);
    assert.equal(cells.Alerts, 'threshold.crossed, threshold.resolved');
    assert.match(cells.Created, /UTC$/);
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone once the dialog closes');
    assert.equal(await page.evaluate(() => sessionStorage.length), 1, 'only the credential is stored');
    const listed = await api('GET', '/v1/webhooks', admin);
    assert.deepEqual(listed.json.webhooks.map((w) => [w.webhook_id, w.url, w.events]),
      [[webhook, hookUrl, ['threshold.crossed', 'threshold.resolved']]]);
    assert.ok(!listed.text.includes(secret));
  });

  await step('traffic: 30 requests of the member (4 of them 404, 2 of them 500), 10 of the root', async () => {
    // 10 ms apart: the alerts (timed by the request that crossed) are young enough for the
    // webhook's retries within the 6 s serve retries for.
    const now = Date.now();
    const line = (key, i, status) => JSON.stringify({ request_id: randomUUID(), key_id: key,
      time: new Date(now - 10 * (i + 1)).toISOString(), product: 'whois', units: 2, status, ip: '203.0.113.7' });
    const lines = [];
    for (let i = 0; i < 30; ++i) lines.push(line(dev, i, i < 4 ? 404 : i < 6 ? 500 : 200));
    for (let i = 0; i < 10; ++i) lines.push(line(owner, i, 200));
    const gateway = await api('POST', '/v1/gateways', OPERATOR, { name: 'console test' });
    assert.equal(gateway.status, 201, gateway.text);
    const r = await api('POST', '/v1/events', gateway.json.token, lines.join('\n') + '\n',
      'application/x-ndjson');
    assert.equal(r.json.accepted, 40, r.text);
    await until('the projector to apply the events', async () =>
      (await api('GET', '/v1/usage?granularity=day', admin)).json.totals.requests === 40);
  });

  await step('usage tab: stacked chart and table per member of the pool', async () => {
    await page.click('#nav a[href="#/admin/usage"]');
    await ready('#/admin/usage');
    await page.waitForSelector(`.usage ${row(dev)}`);
    const cells = await page.$$eval(`.usage ${row(dev)} td`, (tds) => tds.map((td) => td.textContent));
    assert.equal(cells[1], '30');
    assert.equal(cells[2], '60');
    const bars = await page.$$eval('.chart g.bar', (gs) => gs.map((g) => Number(g.dataset.total)));
    assert.equal(bars.reduce((a, b) => a + b, 0), 40);
    const devSegments = await page.$$eval('.chart rect.segment', (rs) => rs.filter((r) => r.dataset.series.includes('dev@')).map((r) => Number(r.dataset.value)));
    assert.equal(devSegments.reduce((a, b) => a + b, 0), 30);
    await page.selectOption('.usage select[name=granularity]', 'hour');
    await page.waitForFunction(() => document.querySelectorAll('.chart g.bar').length === 24 || document.querySelectorAll('.chart g.bar').length === 25);
    await page.waitForSelector(`.usage ${row(dev)}`);
    await shot('04-admin-usage');
  });

  await step('members tab: pool gauges, usage today vs. pool, last request', async () => {
    await page.click('#nav a[href="#/admin/members"]');
    await ready('#/admin/members');
    assert.match(await page.textContent(`.pool[data-key="${owner}"]`), /40 of 1,000 requests/);
    assert.match(await page.textContent(`.pool[data-key="${owner}"]`), /80 of 50,000 units/);
    assert.match(await page.textContent(`.pool[data-key="${owner}"]`), /resets \d{4}-\d\d-\d\d 00:00 UTC/);
    const cells = await page.$$eval(`${row(dev)} td`, (tds) => Object.fromEntries(tds.map((td) => [td.dataset.label, td.textContent])));
    assert.match(cells['Today vs. pool'], /^30 \/ 1,000 pool/);
    assert.match(cells['Last request'], /UTC$/);
    await shot('02-admin-members');
  });

  await step('limits: a member rate limit and expiry, the pool\'s credits and refill, shown as the API has them', async () => {
    await page.click(`${row(dev)} button[data-action=limits]`);
    await page.fill('dialog form.limits input[name=per_minute]', '100');
    await page.fill('dialog form.limits input[name=expires_at]', '2099-01-31T00:00:00');
    await page.click('dialog form.limits button[type=submit]');
    await page.waitForSelector('.notice:text("saved.")');
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('100/min'),
      `${row(dev)} td[data-label="Today vs. pool"]`);
    assert.match(await page.textContent(`${row(dev)} td[data-label="Today vs. pool"]`), /expires 2099-01-31 00:00 UTC/);
    await page.click(`${row(owner)} button[data-action=limits]`);
    await page.fill('dialog form.limits input[name=per_second]', '50');
    await page.fill('dialog form.limits input[name=credits]', '500');
    await page.fill('dialog form.limits input[name=reason]', 'trial');
    await page.fill('dialog form.limits input[name=refill_units]', '1000');
    await page.selectOption('dialog form.limits select[name=refill_period]', 'month');
    await page.click('dialog form.limits button[type=submit]');
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('Credits: 500 left'),
      `.pool[data-key="${owner}"] .limits`);
    const limits = await page.textContent(`.pool[data-key="${owner}"] .limits`);
    assert.match(limits, /Rate limits: 50\/s/);
    assert.match(limits, /refill 1,000 per month/);
    const key = await api('GET', `/v1/keys/${owner}/credits`, admin);
    assert.equal(key.json.credits.balance, 500);
    assert.equal(key.json.entries.length, 2);
    // A negative refill is the API's to refuse: its code shows in the dialog.
    await page.click(`${row(owner)} button[data-action=limits]`);
    await page.fill('dialog form.limits input[name=per_hour]', '-5');
    await page.click('dialog form.limits button[type=submit]');
    assert.equal(await errorCode('dialog form.limits'), 'INVALID_FIELD');
    await page.click('dialog button:text("Close")');
    await shot('03-admin-limits');
  });

  await step('an action the API refuses shows its code: delete a root with children (KEY-HAS-CHILDREN)', async () => {
    await page.click(`${row(owner)} button[data-action=delete]`);
    await page.click('dialog button[value=ok]');
    assert.equal(await errorCode('#members-errors'), 'KEY-HAS-CHILDREN');
    await page.waitForSelector(`${row(owner)}[data-status="active"]`);
  });

  await step('requests tab: filter by member and status, page through', async () => {
    await page.click('#nav a[href="#/admin/requests"]');
    await ready('#/admin/requests');
    await page.selectOption('.filters select[name=key]', dev);
    await page.selectOption('.filters select[name=status]', '4xx');
    await page.click('.filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 1, 4 requests');
    const statuses = await page.$$eval('.list-body td[data-label=Status]', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(statuses, ['404', '404', '404', '404']);
    await page.selectOption('.filters select[name=status]', '');
    // Time filter (inputs are UTC): from an hour ahead, nothing; from an hour ago, all 30.
    const utc = (ms) => new Date(ms).toISOString().slice(0, 16);
    await page.fill('.filters input[name=from]', utc(Date.now() + 3600e3));
    await page.click('.filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 1, 0 requests');
    assert.equal(await page.textContent('.list-body'), 'No requests match.');
    await page.fill('.filters input[name=from]', utc(Date.now() - 3600e3));
    await page.click('.filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 1, 20 requests');
    await shot('05-admin-requests');
    await page.click('.pager button:text("Older")');
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 2, 10 requests');
    await page.click('.pager button:text("Newer")');
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 1, 20 requests');
    const members = await page.$$eval('.list-body td[data-label=Member]', (tds) => [...new Set(tds.map((td) => td.textContent))]);
    assert.deepEqual(members, [`dev@console.test (${dev})`]);
  });

  await step('audit tab: every op on the member, accepted or refused', async () => {
    await page.click('#nav a[href="#/admin/audit"]');
    await ready('#/admin/audit');
    await page.waitForSelector('.list-body table');
    const ops = await page.$$eval('.list-body td[data-label=Operation]', (tds) => tds.map((td) => td.textContent));
    for (const op of ['KeyIssued', 'KeyConfirmed', 'KeySuspended', 'KeyActivated']) {
      assert.ok(ops.includes(op), `${op} in ${ops}`);
    }
    const outcomes = await page.$$eval('.list-body td[data-label=Outcome]', (tds) => tds.map((td) => td.textContent));
    assert.ok(outcomes.includes('✕ KEY-HAS-CHILDREN'), `refused delete in ${outcomes}`);
    await shot('06-admin-audit');
  });

  await step('alerts tab: the 40 requests crossed 1 % and 2 % of the pool\'s 1,000 a day', async () => {
    await page.click('#nav a[href="#/admin/alerts"]');
    await ready('#/admin/alerts');
    await page.waitForSelector('.paged .list-body table');
    const alerts = await page.$$eval('.list-body td[data-label=Threshold]', (tds) => tds.map((td) => td.textContent));
    // Newest first by the time of the request that crossed it (these were posted newest first).
    assert.deepEqual(alerts.sort(), ['1 % of daily requests', '2 % of daily requests']);
    const types = await page.$$eval('.list-body td[data-label=Alert]', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(types, ['threshold.crossed', 'threshold.crossed']);
    await shot('06b-admin-alerts');
  });

  await step('webhooks tab: both alerts\' deliveries to the receiver (500) are retried, then failed', async () => {
    // Retried for 6 s after the alert: failed within a few seconds (bounded wait: 30 s).
    await until('both deliveries to fail', async () =>
      (await api('GET', `/v1/webhooks/${webhook}/deliveries?state=failed`, admin)).json.deliveries.length === 2, 30000);
    await page.click('#nav a[href="#/admin/webhooks"]');
    await ready('#/admin/webhooks');
    assert.equal(await page.getAttribute(`tr[data-webhook="${webhook}"] button[data-action=deliveries]`, 'aria-expanded'), 'false');
    await page.click(`tr[data-webhook="${webhook}"] button[data-action=deliveries]`);
    await page.waitForFunction(() => document.querySelector('.deliveries .page-info')?.textContent === 'page 1, 2 deliveries');
    assert.equal(await page.getAttribute(`tr[data-webhook="${webhook}"] button[data-action=deliveries]`, 'aria-expanded'), 'true');
    assert.match(await page.textContent('.deliveries h2'), new RegExp(`Deliveries to ${hookUrl}`));
    const rows = await page.$$eval('.deliveries tr[data-state]', (trs) => trs.map((tr) =>
      ({ state: tr.dataset.state, ...Object.fromEntries([...tr.cells].map((td) => [td.dataset.label, td.textContent])),
        refused: !!tr.querySelector('td[data-label=State] .outcome.refused') })));
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.state, 'failed');
      assert.equal(r.State, '✕ failed');
      assert.ok(r.refused, 'a failed delivery is styled as refused');
      assert.equal(r.Type, 'threshold.crossed');
      assert.ok(Number(r.Attempts) >= 2, `attempts ${r.Attempts}`);
      assert.equal(r['Last status'], '500');
      assert.equal(r['Last error'], 'HTTP-STATUS');
      assert.match(r['Last attempt'], /UTC$/);
      assert.equal(r['Next attempt'], '—');
    }
    // The state filter: none pending, both failed.
    await page.selectOption('.deliveries select[name=state]', 'pending');
    await page.click('.deliveries .filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.deliveries .page-info')?.textContent === 'page 1, 0 deliveries');
    assert.equal(await page.textContent('.deliveries .list-body'), 'No deliveries match.');
    await page.selectOption('.deliveries select[name=state]', 'failed');
    await page.click('.deliveries .filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.deliveries .page-info')?.textContent === 'page 1, 2 deliveries');
    await shot('06d-admin-webhook-deliveries');
    // What the receiver got: each alert at least twice, signed with the secret shown once.
    assert.ok(hooks.length >= 4, `${hooks.length} requests received`);
    const perAlert = new Map();
    for (const hook of hooks) {
      assert.equal(hook.method, 'POST');
      assert.equal(hook.url, '/hook');
      assert.equal(hook.headers['keymeter-webhook-id'], webhook);
      assert.equal(hook.headers['keymeter-event'], 'threshold.crossed');
      const [, t, v1] = hook.headers['keymeter-signature'].match(/^t=(\d+),v1=([0-9a-f]{64})$/);
      assert.equal(createHmac('sha256', secret).update(`${t}.`).update(hook.body).digest('hex'), v1, 'signature');
      const id = JSON.parse(hook.body).id;
      perAlert.set(id, (perAlert.get(id) || 0) + 1);
    }
    assert.deepEqual([...perAlert.keys()].sort(), rows.map((r) => r.Alert).sort());
    for (const [id, n] of perAlert) assert.ok(n >= 2, `${id} received ${n} times`);
  });

  await step('webhooks tab: delete after a confirmation; the list is empty', async () => {
    await page.click(`tr[data-webhook="${webhook}"] button[data-action=delete]`);
    await page.click('dialog button[value=cancel]');
    assert.equal((await api('GET', '/v1/webhooks', admin)).json.webhooks.length, 1, 'cancel keeps it');
    await page.click(`tr[data-webhook="${webhook}"] button[data-action=delete]`);
    await page.click('dialog button[value=ok]');
    await page.waitForSelector('.webhooks-list p.empty');
    assert.equal(await page.textContent('.webhooks-list'), 'No webhooks yet: register one above.');
    assert.equal(await page.$$eval('.deliveries .paged', (ps) => ps.length), 0, 'its delivery log is closed');
    assert.deepEqual((await api('GET', '/v1/webhooks', admin)).json.webhooks, []);
    assert.equal((await api('GET', `/v1/webhooks/${webhook}/deliveries`, admin)).json.error.code, 'NO-SUCH-WEBHOOK');
  });

  await step('phone width: the members view fits 390 px, tables as cards', async () => {
    await page.click('#nav a[href="#/admin/members"]');
    await ready('#/admin/members');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForSelector(row(dev));
    const [scroll, display] = await page.evaluate(() => [document.documentElement.scrollWidth,
      getComputedStyle(document.querySelector('table.data thead')).display]);
    assert.ok(scroll <= 392, `page width ${scroll}`);
    assert.equal(display, 'none');
    await shot('07-admin-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('admin rotates the member\'s key: new key once, the old one stops', async () => {
    await page.click(`${row(dev)} button[data-action=rotate]`);
    await page.click('dialog button[value=ok]');
    const rotated = await (await page.waitForSelector('dialog .plain-key')).inputValue();
    assert.notEqual(rotated, devKey);
    assert.equal(rotated.slice(0, 8), dev);
    await page.click('dialog button[type=submit]');
    assert.equal((await api('POST', '/v1/authorize', null, { key: devKey, product: 'whois' })).json.reason, 'NOT_FOUND');
    devKey = rotated;
  });

  await step('sign out clears the session', async () => {
    await page.click('#sign-out');
    await ready('signin');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await step('member signs in: own key, inherited config, own usage and requests only', async () => {
    await page.fill('input[name=credential]', devKey);
    await page.click('form.signin button[type=submit]');
    await ready('#/me');
    const text = await page.textContent('#main');
    assert.match(text, /dev@console\.test/);
    assert.match(text, /Productsdns, whois/);
    assert.match(text, new RegExp(`Inherited from the parent key ${owner}`));
    assert.doesNotMatch(text, /owner@console\.test/);
    const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
    assert.deepEqual(nav, ['My key']);
    await page.waitForSelector(`.usage ${row(dev)}`);
    assert.equal(await page.textContent(`.usage ${row(dev)} td[data-label=Requests]`), '30');
    assert.match(text, /My limits100\/min/);
    assert.match(text, /Credits left500/);
    assert.match(text, /Expires2099-01-31 00:00 UTC/);
    await page.waitForFunction(() => document.querySelector('.page-info')?.textContent === 'page 1, 20 requests');
    await shot('08-member');
  });

  await step('member: an invalid CIDR shows the API\'s INVALID-CIDR and message; a valid list saves', async () => {
    await page.fill('form.sources textarea[name=ips]', '10.0.0.0/33');
    await page.click('form.sources button[type=submit]');
    assert.equal(await errorCode('form.sources'), 'INVALID-CIDR');
    assert.ok((await page.textContent('form.sources .error .message')).length > 0);
    await shot('09-member-invalid-cidr');
    await page.fill('form.sources textarea[name=ips]', '203.0.113.0/24\n2001:db8::/32');
    await page.click('form.sources button[type=submit]');
    await page.waitForSelector('.notice:text("Allowed sources saved.")');
    const me = await api('GET', '/v1/me', devKey);
    assert.deepEqual(me.json.allowed_sources.ips, ['203.0.113.0/24', '2001:db8::/32']);
  });

  await step('member cannot reach admin data: the API answers 403 FORBIDDEN and the page shows it', async () => {
    for (const target of ['/v1/keys', '/v1/usage', '/v1/audit', '/v1/requests', `/v1/keys/${owner}`, '/v1/webhooks']) {
      const r = await api('GET', target, devKey);
      assert.equal(r.status, 403, target);
      assert.equal(r.json.error.code, 'FORBIDDEN', target);
    }
    for (const tab of ['members', 'usage', 'audit', 'webhooks']) {
      await page.goto(`${base}/console/#/admin/${tab}`);
      await ready(`#/admin/${tab}`);
      assert.equal(await errorCode('#main'), 'FORBIDDEN');
      assert.match(await page.textContent('#main .error'), /HTTP 403/);
      assert.doesNotMatch(await page.textContent('#main'), /owner@console\.test/);
      if (tab === 'members') await shot('10-member-forbidden');
    }
  });

  await step('member rotates its own key; the session goes on with the new one', async () => {
    await page.goto(`${base}/console/#/me`);
    await ready('#/me');
    await page.click('button[data-action=rotate-own]');
    await page.click('dialog button[value=ok]');
    const rotated = await (await page.waitForSelector('dialog .plain-key')).inputValue();
    assert.notEqual(rotated, devKey);
    await page.click('dialog button[type=submit]');
    await ready('#/me');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('keymeter.console.credential')), rotated);
    assert.equal((await api('GET', '/v1/me', devKey)).status, 401);
    assert.equal((await api('GET', '/v1/me', rotated)).status, 200);
  });

  await step('no script error and no Content-Security-Policy violation in the whole run', async () => {
    assert.deepEqual(problems, []);
  });
  console.log(`console test: ${done.length} steps passed; screenshots in ${artifacts}`);
} catch (e) {
  exitCode = 1;
  console.error(`FAILED at step "${current}": ${e.stack || e}`);
  if (page) await shot(`FAILED-${done.length + 1}`).catch(() => {});
} finally {
  if (browser) await browser.close().catch(() => {});
  receiver.closeAllConnections();
  receiver.close();
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  fs.rmSync(temp, { recursive: true, force: true });
}
process.exit(exitCode);
