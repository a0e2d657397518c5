// Browser test of the dispatcher's operator console, driven by puppeteer-core and the system
// Chromium against a real site that a C++ harness has started. Prints one "ok N - ..." line per
// step; exits non-zero at the first failure. See the environment variables below.
import fs from 'node:fs/promises';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const WAIT_MS = 60_000; // the longest any single wait may take
const GLOBAL_TIMEOUT_MS = 4 * 60_000;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'partially_succeeded'];

/* ---------- configuration ---------- */

function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`not ok - environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const cfg = {
  base: env('DCOPS_CONSOLE_URL').replace(/\/+$/, ''),
  operatorToken: env('DCOPS_OPERATOR_TOKEN'),
  viewerToken: env('DCOPS_VIEWER_TOKEN'),
  shots: env('DCOPS_SCREENSHOT_DIR'),
  chromium: env('DCOPS_CHROMIUM'),
  searchText: env('DCOPS_SEARCH_TEXT'),
  conflictServer: env('DCOPS_CONFLICT_SERVER_ID'),
  refreshType: env('DCOPS_REFRESH_JOB_TYPE'),
  slowType: env('DCOPS_SLOW_JOB_TYPE'),
  slowScopeKind: env('DCOPS_SLOW_SCOPE_KIND'),
  slowScopeValue: env('DCOPS_SLOW_SCOPE_VALUE'),
};
const consoleHost = new URL(cfg.base).host;

/* ---------- failure bookkeeping ---------- */

let browser = null;
let stepNo = 0;
const problems = []; // page errors, console errors, failed or foreign requests
const screenshots = [];

class TestFailure extends Error {}
const check = (cond, message) => { if (!cond) throw new TestFailure(message); };

async function finish(code, message) {
  if (message) console.error(message);
  clearTimeout(globalTimer);
  try { if (browser) await browser.close(); } catch { /* closing is best effort */ }
  process.exit(code);
}

const globalTimer = setTimeout(() => {
  finish(1, `not ok ${stepNo} - global timeout: the run took longer than ${GLOBAL_TIMEOUT_MS / 1000} s`);
}, GLOBAL_TIMEOUT_MS);

function assertNoProblems() {
  if (problems.length) throw new TestFailure(`the page reported problems:\n  ${problems.join('\n  ')}`);
}

async function step(title, body) {
  stepNo += 1;
  try {
    const detail = await body();
    assertNoProblems();
    console.log(`ok ${stepNo} - ${detail || title}`);
  } catch (e) {
    const extra = problems.length && !(e instanceof TestFailure && e.message.startsWith('the page reported'))
      ? `\n  also reported by the page:\n  ${problems.join('\n  ')}` : '';
    await finish(1, `not ok ${stepNo} - ${title}: ${e && e.message ? e.message : e}${extra}`);
  }
}

/* ---------- browser and page helpers ---------- */

// Expected on purpose: the console closes its EventSource when it switches jobs, and leaving a
// page aborts the stream it had open.
const expectedFailure = (url, errorText) => new URL(url).pathname === '/api/v1/stream' && /ERR_ABORTED/.test(errorText);

async function openBrowser() {
  browser = await puppeteer.launch({
    executablePath: cfg.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage',
      '--proxy-server=direct://', '--proxy-bypass-list=*', '--no-default-browser-check',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    defaultViewport: { width: 1440, height: 900 },
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('data:')) { req.continue(); return; }
    let host = '';
    try { host = new URL(url).host; } catch { /* not a URL: blocked below */ }
    if (host !== consoleHost) {
      problems.push(`request outside the console's host blocked: ${url}`);
      req.abort('blockedbyclient');
      return;
    }
    req.continue();
  });
  page.on('requestfailed', (req) => {
    const errorText = req.failure() ? req.failure().errorText : 'failed';
    if (/blockedbyclient/i.test(errorText) || expectedFailure(req.url(), errorText)) return;
    problems.push(`request failed: ${req.method()} ${req.url()} (${errorText})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err && err.message ? err.message : err}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
  page.on('dialog', (dialog) => { dialog.accept(); });
  return page;
}

const pathOf = (page) => new URL(page.url()).pathname;

async function isVisible(page, selector) {
  return page.evaluate((sel) => {
    const e = document.querySelector(sel);
    return Boolean(e && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden');
  }, selector);
}

async function waitText(page, selector, text) {
  await page.waitForFunction((sel, t) => {
    const e = document.querySelector(sel);
    return e && e.textContent.trim() === t;
  }, { timeout: WAIT_MS }, selector, text);
}

async function setValue(page, selector, value) {
  await page.$eval(selector, (e) => { e.value = ''; });
  if (value) await page.type(selector, value);
}

async function submitAndWaitForPage(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: WAIT_MS }), page.click(selector)]);
}

async function login(page, token, name) {
  await page.goto(`${cfg.base}/console/`, { waitUntil: 'load' });
  check(pathOf(page) === '/console/login', `expected the login page, got ${page.url()}`);
  await setValue(page, '#token', token);
  if (name !== undefined) await setValue(page, '#name', name);
  await submitAndWaitForPage(page, '#login');
}

async function shot(page, view) {
  const file = path.join(cfg.shots, `console-${view}.png`);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(path.basename(file));
}

async function go(page, nav, viewSelector) {
  await page.click(nav);
  await page.waitForSelector(viewSelector, { visible: true });
}

// Records every #job-status / progress change of the job view, in-page, across hash changes.
async function recordJobView(page) {
  await page.evaluate(() => {
    window.__jobSeen = [];
    const record = () => {
      const view = document.getElementById('view-job');
      const status = document.getElementById('job-status');
      const bar = document.getElementById('job-progress');
      if (!view || view.hidden || !view.dataset.jobId || !status.textContent) return;
      const entry = { job: view.dataset.jobId, status: status.textContent, progress: bar ? bar.dataset.progress : null };
      const last = window.__jobSeen[window.__jobSeen.length - 1];
      if (!last || last.job !== entry.job || last.status !== entry.status || last.progress !== entry.progress) window.__jobSeen.push(entry);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    record();
  });
}

async function seenFor(page, jobId) {
  const seen = await page.evaluate(() => window.__jobSeen || []);
  return seen.filter((e) => e.job === jobId);
}

async function markerIntact(page) {
  return page.evaluate(() => window.__dcopsMarker === 'still-the-same-page');
}

// Opens the form, picks the job type and scope; returns once the form is ready to submit.
async function fillJobForm(page, jobType, scopeKind, scopeValue) {
  await page.click('#nav-jobs');
  await page.waitForSelector('#new-job', { visible: true });
  await page.click('#new-job');
  await page.waitForSelector('#job-form', { visible: true });
  await page.waitForFunction((t) => [...document.querySelectorAll('#job-type option')].some((o) => o.value === t), {}, jobType);
  await page.select('#job-type', jobType);
  await page.waitForFunction((k) => [...document.querySelectorAll('#scope-kind option')].some((o) => o.value === k), {}, scopeKind);
  await page.select('#scope-kind', scopeKind);
  if (scopeKind === 'all_servers') {
    await page.waitForSelector('#scope-all', { visible: true });
    if (!(await page.$eval('#scope-all', (e) => e.checked))) await page.click('#scope-all');
  } else {
    await setValue(page, '#scope-value', scopeValue);
  }
}

// Submits the form and waits for the new job's view; returns the job id.
async function submitJobForm(page, previousJobId) {
  await page.click('#job-submit');
  const handle = await page.waitForFunction((prev) => {
    const err = document.getElementById('job-form-error');
    if (err && !err.hidden && err.textContent) return { error: err.textContent };
    const view = document.getElementById('view-job');
    const id = view && !view.hidden ? view.dataset.jobId : '';
    return id && id !== prev && location.hash === `#job/${encodeURIComponent(id)}` ? { id } : false;
  }, { timeout: WAIT_MS }, previousJobId || '');
  const result = await handle.jsonValue();
  check(!result.error, `the form refused the job: ${result.error}`);
  return result.id;
}

/* ---------- the steps ---------- */

async function main() {
  await fs.mkdir(cfg.shots, { recursive: true });
  const page = await openBrowser();
  let refreshJob = '';
  let slowJob = '';

  await step('login page, wrong token, viewer, log out', async () => {
    await page.goto(`${cfg.base}/console/`, { waitUntil: 'load' });
    check(pathOf(page) === '/console/login', `/console/ without a session should land on the login page, got ${page.url()}`);
    check(!(await isVisible(page, '#login-error')), 'the login error shows before any attempt');
    await shot(page, 'login');
    await setValue(page, '#token', `wrong-${Date.now()}`);
    await submitAndWaitForPage(page, '#login');
    check(pathOf(page) === '/console/login', `a wrong token should come back to the login page, got ${page.url()}`);
    await page.waitForSelector('#login-error', { visible: true });
    await waitText(page, '#login-error', 'That token was not accepted.');

    await login(page, cfg.viewerToken);
    check(pathOf(page) === '/console/', `the viewer token should open the console, got ${page.url()}`);
    await page.waitForSelector('body[data-role]');
    await waitText(page, '#role', 'viewer');
    for (const sel of ['#new-job', '#job-form', '#job-cancel', '#job-resume-retry']) {
      check(!(await isVisible(page, sel)), `a viewer sees the operator control ${sel}`);
    }
    await submitAndWaitForPage(page, '#logout');
    check(pathOf(page) === '/console/login', `log out should end on the login page, got ${page.url()}`);
    await page.goto(`${cfg.base}/console/`, { waitUntil: 'load' });
    check(pathOf(page) === '/console/login', 'after log out /console/ should ask for a token again');
    return 'login page; wrong token refused; viewer sees role viewer and no operator controls; logged out';
  });

  await step('operator login with a name', async () => {
    await login(page, cfg.operatorToken, 'browser-test');
    check(pathOf(page) === '/console/', `the operator token should open the console, got ${page.url()}`);
    await waitText(page, '#whoami', 'console:browser-test');
    await waitText(page, '#role', 'operator');
    await page.waitForSelector('#new-job', { visible: true });
    return 'operator logged in as console:browser-test';
  });

  await step('refresh job created through the form and watched live', async () => {
    await page.evaluate(() => { window.__dcopsMarker = 'still-the-same-page'; });
    await recordJobView(page);
    await fillJobForm(page, cfg.refreshType, 'all_servers', '');
    refreshJob = await submitJobForm(page, '');
    await waitText(page, '#job-status', 'succeeded');
    check(await markerIntact(page), 'the page was reloaded while the job ran');
    const seen = await seenFor(page, refreshJob);
    const statuses = seen.map((e) => e.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);
    const firstDone = statuses.indexOf('succeeded');
    check(statuses.slice(0, firstDone).some((s) => !TERMINAL.includes(s)),
      `the job was never seen unfinished before it succeeded (seen: ${statuses.join(' → ')})`);
    check(statuses[statuses.length - 1] === 'succeeded', `the job did not end succeeded (seen: ${statuses.join(' → ')})`);
    const progress = seen.map((e) => e.progress).filter((p, i, a) => i === 0 || a[i - 1] !== p);

    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#steps-table tbody tr[data-step-id]')];
      return rows.length > 0 && rows.every((r) => r.querySelector('.step-status').textContent.trim() === 'succeeded');
    });
    const steps = await page.$$eval('#steps-table tbody tr[data-step-id]', (rows) => rows.length);
    await page.waitForFunction(() => [...document.querySelectorAll('#events-list li[data-event-id]')]
      .some((li) => /succeeded/i.test(li.textContent)));
    const events = await page.$$eval('#events-list li[data-event-id]', (lis) => lis.map((li) => Number(li.dataset.eventId)));
    check(new Set(events).size === events.length, `#events-list holds an event twice: ${events.join(',')}`);
    check(events.every((id, i) => i === 0 || events[i - 1] < id), `#events-list is out of order: ${events.join(',')}`);

    await page.click('#steps-table tbody tr[data-step-id]');
    await page.waitForFunction(() => {
      const box = document.getElementById('step-result');
      return box && !box.hidden && box.dataset.stepId && box.textContent.trim().length > 0;
    });
    await shot(page, 'job');
    return `refresh job watched live: ${statuses.join('→')} (progress ${progress.join('→')}), ${steps} step(s) succeeded, ${events.length} event(s), step result shown`;
  });

  await step('slow job created through the form and cancelled', async () => {
    await fillJobForm(page, cfg.slowType, cfg.slowScopeKind, cfg.slowScopeValue);
    await shot(page, 'new-job');
    slowJob = await submitJobForm(page, refreshJob);
    await page.waitForSelector('#job-cancel', { visible: true });
    const before = await page.$eval('#job-status', (e) => e.textContent.trim());
    check(!TERMINAL.includes(before), `the slow job should still be unfinished, it is ${before}`);
    await page.click('#job-cancel');
    await waitText(page, '#job-status', 'cancelled');
    check(await markerIntact(page), 'the page was reloaded while cancelling');
    const statuses = (await seenFor(page, slowJob)).map((e) => e.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);
    return `slow job shown unfinished then cancelled live: ${statuses.join('→')}`;
  });

  await step('jobs view lists both jobs', async () => {
    await go(page, '#nav-jobs', '#jobs-table');
    await page.waitForFunction((a, b) => {
      const status = (id) => {
        const row = [...document.querySelectorAll('#jobs-table tr[data-job-id]')].find((r) => r.dataset.jobId === id);
        const cell = row && row.querySelector('.job-status');
        return cell ? cell.textContent.trim() : null;
      };
      return status(a) === 'succeeded' && status(b) === 'cancelled';
    }, { timeout: WAIT_MS }, refreshJob, slowJob);
    check(await page.$eval(`#jobs-table tr[data-job-id="${refreshJob}"] .job-progress`, (e) => e.dataset.progress) !== undefined,
      'the job row has no progress bar with data-progress');
    await shot(page, 'jobs');
    return 'jobs view lists the refresh job succeeded and the slow job cancelled';
  });

  await step('inventory search and conflict flag', async () => {
    await go(page, '#nav-inventory', '#inventory-q');
    const search = async (q) => {
      await setValue(page, '#inventory-q', q);
      await page.focus('#inventory-q');
      await page.keyboard.press('Enter');
      await page.waitForFunction((text) => document.getElementById('view-inventory').dataset.query === text, {}, q);
    };
    await search(cfg.searchText);
    const found = await page.evaluate(() => {
      const rows = (id) => [...document.querySelectorAll(`#${id} tbody tr[data-id]`)];
      return {
        servers: rows('inventory-servers').map((r) => r.dataset.id),
        hosts: rows('inventory-hosts').map((r) => ({ id: r.dataset.id, server: r.dataset.serverId })),
        vms: rows('inventory-vms').map((r) => ({ id: r.dataset.id, host: r.dataset.hostId })),
      };
    });
    check(found.servers.length === 1, `searching "${cfg.searchText}" should find exactly one server, found ${found.servers.length}`);
    const hosts = found.hosts.filter((h) => h.server === found.servers[0]).map((h) => h.id);
    check(hosts.length >= 1, `no host row linked to server ${found.servers[0]} (host rows: ${JSON.stringify(found.hosts)})`);
    const vms = found.vms.filter((v) => hosts.includes(v.host));
    check(vms.length >= 1, `no VM row of host(s) ${hosts.join(', ')} (VM rows: ${found.vms.length})`);
    await shot(page, 'inventory');

    await search(cfg.conflictServer);
    const flagged = await page.evaluate((id) => {
      const row = [...document.querySelectorAll('#inventory-servers tbody tr[data-id]')].find((r) => r.dataset.id === id);
      const marker = row && row.querySelector('.conflict-marker');
      return row ? { cls: row.classList.contains('has-conflict'), marker: Boolean(marker && marker.getClientRects().length) } : null;
    }, cfg.conflictServer);
    check(flagged, `searching ${cfg.conflictServer} shows no row for that server`);
    check(flagged.cls && flagged.marker, `server ${cfg.conflictServer} is not flagged with its open conflict`);
    return `inventory: "${cfg.searchText}" → 1 server, ${hosts.length} host(s), ${vms.length} VM(s); conflict server flagged`;
  });

  await step('agents, limits, schedules and conflicts views', async () => {
    await go(page, '#nav-agents', '#agents-table');
    await page.waitForFunction(() => [...document.querySelectorAll('#agents-table tr[data-agent-id] .agent-status')]
      .some((s) => s.textContent.trim() === 'online'));
    const online = await page.$$eval('#agents-table tr[data-agent-id] .agent-status', (s) => s.filter((x) => x.textContent.trim() === 'online').length);
    await shot(page, 'agents');
    await go(page, '#nav-limits', '#limits-table');
    await page.waitForSelector('#limits-table tbody tr');
    await go(page, '#nav-schedules', '#schedules-table');
    await page.waitForSelector('#view-schedules[data-loaded] #schedules-table tbody tr');
    await shot(page, 'schedules');
    await go(page, '#nav-conflicts', '#conflicts-table');
    await page.waitForSelector('#view-conflicts[data-loaded] #conflicts-table tbody tr');
    const open = await page.$$eval('#conflicts-table tbody tr[data-id]', (rows) => rows.length);
    check(open >= 1, 'the conflicts view lists no open identity conflict');
    await shot(page, 'conflicts');
    return `${online} agent(s) online; limits and schedules render; ${open} open conflict(s) listed`;
  });

  await step('screenshots written', async () => {
    const want = ['login', 'jobs', 'job', 'new-job', 'agents', 'inventory', 'schedules', 'conflicts'].map((v) => `console-${v}.png`);
    for (const name of want) {
      const stat = await fs.stat(path.join(cfg.shots, name)).catch(() => null);
      check(stat && stat.size > 0, `screenshot ${name} is missing`);
    }
    return `screenshots in ${cfg.shots}: ${want.join(', ')}`;
  });

  await finish(0);
}

main().catch((e) => finish(1, `not ok ${stepNo} - ${e && e.stack ? e.stack : e}`));
