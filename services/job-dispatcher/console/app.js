// dcops operator console: one page, no framework, no build step.
// Every piece of device or job data is untrusted: the DOM is built with createElement and
// textContent only, links point at in-page hashes built from encoded ids, never at data.
'use strict';

/* ===== 1. DOM helpers ===================================================== */

const byId = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const PROPS = new Set(['value', 'checked', 'hidden', 'disabled', 'selected', 'open', 'max']);

// el('td', {class: 'num', text: 3}, child, ...): attributes via setAttribute, text via textContent.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const clear = (node) => { node.replaceChildren(); return node; };
const td = (content, cls) => el('td', { class: cls }, content ?? '—');
// A class name built from data: only simple tokens pass, anything else is "unknown".
const token = (s) => (/^[A-Za-z0-9_-]{1,40}$/.test(String(s)) ? String(s) : 'unknown');
const shortId = (id) => (typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : String(id ?? '—'));
const compact = (v) => (v === undefined ? '' : JSON.stringify(v));

function pill(text, baseClass) {
  return el('span', { class: `${baseClass} status status-${token(text)}`, text: text ?? '—' });
}

function fillTable(table, rows, emptyText, columns) {
  const body = clear(table.tBodies[0]);
  if (rows.length) body.append(...rows);
  else body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: columns, class: 'empty', text: emptyText })));
}

function jsonDetails(label, value, open = false) {
  return el('details', { open }, el('summary', { text: label }), el('pre', { text: JSON.stringify(value, null, 2) }));
}

// Any JSON value as a node: short things inline, long objects collapsed.
function valueNode(v) {
  if (v === null || v === undefined || v === '') return el('span', { class: 'muted', text: '—' });
  if (typeof v !== 'object') return el('span', { text: String(v) });
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) return el('span', { text: v.join(', ') });
  const text = compact(v);
  return text.length <= 90 ? el('code', { text }) : jsonDetails('show', v);
}

function kvList(dl, pairs) {
  clear(dl);
  for (const [key, value] of pairs) {
    dl.append(el('dt', { text: key }), el('dd', null, value instanceof Node ? value : valueNode(value)));
  }
  return dl;
}

/* ===== 2. Time formatting ================================================= */

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function toDate(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

const fmtAbs = (ts) => (toDate(ts) ? toDate(ts).toLocaleString() : '—');

function fmtRel(ts) {
  const d = toDate(ts);
  if (!d) return '—';
  const s = (d.getTime() - Date.now()) / 1000;
  const a = Math.abs(s);
  if (a < 45) return rtf.format(Math.round(s), 'second');
  if (a < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 64800) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 7 * 86400) return rtf.format(Math.round(s / 86400), 'day');
  return d.toLocaleString();
}

function timeNode(ts) {
  if (!toDate(ts)) return el('span', { class: 'muted', text: '—' });
  return el('time', { datetime: ts, title: fmtAbs(ts), text: fmtRel(ts) });
}

// An interval in its largest whole unit: 86400 → "1 d", 90 → "90 s".
function fmtSeconds(total) {
  const s = Math.round(Number(total));
  if (!Number.isFinite(s)) return '—';
  const [size, unit] = [[86400, 'd'], [3600, 'h'], [60, 'min']].find(([n]) => s && s % n === 0) || [1, 's'];
  return `${s / size} ${unit}`;
}

/* ===== 3. API client ====================================================== */

class ApiError extends Error {
  constructor(status, code, message) { super(message); Object.assign(this, { status, code }); }
}

const goLogin = () => window.location.assign('/console/login');

// fetch with the console header; JSON in and out; {"error":{code,message}} becomes ApiError.
async function api(path, { method = 'GET', body } = {}) {
  const headers = { 'X-Dcops-Console': '1', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `The dispatcher could not be reached (${e.message}).`);
  }
  if (res.status === 401) goLogin();
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: judged by the status alone */ }
  if (res.ok) return data;
  const err = (data && data.error) || {};
  throw new ApiError(res.status, err.code || String(res.status), err.message || `HTTP ${res.status}`);
}

/* ===== 4. State and notices =============================================== */

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'partially_succeeded']);
const isFinished = (status) => TERMINAL.has(status);

const state = {
  me: null,
  jobs: [],
  agents: [], limits: [],
  jobTypes: null, paramSpecs: new Map(), pickerChecked: new Set(),
  job: newJobState(null),
  stream: { es: null, jobId: null, retries: 0, timer: null },
  inventorySeq: 0,
};

function newJobState(id) {
  return { id, data: null, eventIds: new Set(), lastEventId: 0, selectedStep: null };
}

function showNotice(message) {
  byId('notice-text').textContent = message;
  byId('notice').hidden = false;
}

function reportError(err) {
  if (err && err.status === 401) return; // already on the way to the login page
  const prefix = err && err.status === 503 ? 'Service unavailable: ' : '';
  showNotice(prefix + (err && err.message ? err.message : String(err)));
}

/* ===== 5. Live stream (server-sent events) ================================ */

function setLive(connected) {
  const live = byId('live');
  live.className = `live ${connected ? 'connected' : 'reconnecting'}`;
  live.textContent = connected ? 'live' : 'reconnecting';
}

function closeStream() {
  const s = state.stream;
  clearTimeout(s.timer);
  s.timer = null;
  if (s.es) s.es.close();
  s.es = null;
}

// One EventSource at a time: plain, or for the open job with the event cursor.
function openStream(jobId) {
  const s = state.stream;
  if (s.es && s.jobId === jobId) return;
  closeStream();
  s.jobId = jobId;
  let url = '/api/v1/stream';
  if (jobId) url += `?job=${enc(jobId)}&after=${state.job.id === jobId ? state.job.lastEventId : 0}`;
  const es = new EventSource(url);
  s.es = es;
  setLive(false);
  es.addEventListener('open', () => { s.retries = 0; setLive(true); });
  es.addEventListener('error', () => onStreamError(es));
  const on = (name, handler) => es.addEventListener(name, (e) => {
    if (es !== s.es) return;
    let data;
    try { data = JSON.parse(e.data); } catch { showNotice(`The live stream sent unreadable "${name}" data.`); return; }
    handler(data);
  });
  on('jobs', (d) => { state.jobs = Array.isArray(d.jobs) ? d.jobs : []; renderJobs(); });
  on('agents', (d) => { state.agents = Array.isArray(d.agents) ? d.agents : []; renderAgents(); });
  on('limits', (d) => { state.limits = Array.isArray(d.limits) ? d.limits : []; renderLimits(); });
  on('job', (d) => { if (d && d.id === state.job.id) { state.job.data = d; renderJob(); } });
  on('events', (d) => { if (s.jobId === state.job.id) appendEvents(d.events); });
  // The dispatcher says when it cannot read the control plane, and again when it can.
  on('problem', (d) => {
    if (d && d.error) showNotice(`Live updates paused: ${d.error.message || 'the control plane is unreachable'}`);
    else byId('notice').hidden = true;
  });
  on('signed_out', () => { closeStream(); location.assign('/console/login'); });
}

// The browser retries by itself; when it gives up (an error answer) we check the session
// and reopen after a growing pause, with the current event cursor.
function onStreamError(es) {
  const s = state.stream;
  if (es !== s.es) return;
  setLive(false);
  if (es.readyState !== EventSource.CLOSED) return;
  s.es = null;
  const delay = Math.min(30000, 1000 * 2 ** s.retries);
  s.retries += 1;
  s.timer = setTimeout(async () => {
    s.timer = null;
    try { await api('/api/v1/whoami'); } catch (e) { if (e.status === 401) return; }
    if (!s.es) openStream(s.jobId);
  }, delay);
}

/* ===== 6. Navigation ====================================================== */

const VIEWS = ['jobs', 'job', 'agents', 'limits', 'inventory', 'schedules', 'conflicts'];

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  return { parts: path.split('/').map((p) => decodeURIComponent(p)), params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function showView(view) {
  for (const name of VIEWS) byId(`view-${name}`).hidden = name !== view;
  const navView = view === 'job' ? 'jobs' : view;
  for (const b of document.querySelectorAll('.nav button')) b.classList.toggle('active', b.dataset.view === navView);
}

function route() {
  const { parts, params } = parseHash();
  const view = VIEWS.includes(parts[0]) ? parts[0] : 'jobs';
  showView(view);
  if (view === 'jobs') showJobForm(parts[1] === 'new');
  else if (view === 'job') openJob(parts[1] || '');
  else if (view === 'inventory') searchInventory(params.get('q') || '');
  else if (view === 'schedules') loadSchedules();
  else if (view === 'conflicts') loadConflicts();
  // The job view opens its own stream once the job is loaded.
  if (view !== 'job' && !state.stream.es && !state.stream.timer) openStream(state.stream.jobId);
}

/* ===== 7. Session: who am I, log out ====================================== */

async function loadWhoami() {
  const me = await api('/api/v1/whoami');
  state.me = me;
  byId('site-name').textContent = me.site || '';
  byId('whoami').textContent = me.actor || '';
  byId('role').textContent = me.role || '';
  const operator = me.role === 'operator';
  document.body.classList.toggle('role-operator', operator);
  if (!operator) for (const node of document.querySelectorAll('.operator-only')) node.remove();
  document.body.dataset.role = me.role || 'unknown';
}

async function logout() {
  closeStream();
  try {
    const res = await fetch('/console/logout', { method: 'POST', headers: { 'X-Dcops-Console': '1' }, credentials: 'same-origin' });
    await res.text(); // finish the exchange before leaving the page
  } catch {
    // the session ends with the cookie anyway; the login page is the right place now
  } finally {
    goLogin();
  }
}

/* ===== 8. Jobs list ======================================================= */

// Progress as a whole percentage: the job's own, else finished steps, else 0/100.
function jobPct(job) {
  const p = Number(job.progress);
  if (job.progress !== null && job.progress !== undefined && Number.isFinite(p)) return Math.max(0, Math.min(100, Math.round(p)));
  const total = Number(job.steps_total) || 0;
  if (total > 0) return Math.round((100 * (Number(job.steps_finished) || 0)) / total);
  return job.status === 'succeeded' ? 100 : 0;
}

function progressNode(pct, status, cls = 'job-progress') {
  const bar = el('progress', { class: cls, max: 100, value: pct, title: `${pct}%` });
  bar.dataset.progress = String(pct);
  styleProgress(bar, status);
  return bar;
}

function styleProgress(bar, status) {
  bar.classList.toggle('done', status === 'succeeded');
  bar.classList.toggle('bad', status === 'failed' || status === 'partially_succeeded');
}

function jobRow(job) {
  const href = `#job/${enc(job.id)}`;
  const status = el('td', null, pill(job.status, 'job-status'));
  if (job.cancel_requested && !isFinished(job.status)) status.append(' ', el('span', { class: 'hint', text: 'cancel requested' }));
  const failed = Number(job.steps_failed) || 0;
  const steps = `${job.steps_finished ?? 0}/${job.steps_total ?? 0}${failed ? ` (${failed} failed)` : ''}`;
  const pct = jobPct(job);
  return el('tr', { class: 'clickable', dataset: { jobId: job.id }, onclick: () => navigate(href) },
    td(el('a', { href, text: job.job_type })), status,
    td([progressNode(pct, job.status), ` ${pct}%`]), td(steps, 'num'), td(job.priority, 'num'),
    td(timeNode(job.created_at)), td(timeNode(job.finished_at)), td(shortId(job.id), 'id'));
}

function renderJobs() {
  fillTable(byId('jobs-table'), state.jobs.map(jobRow), 'No jobs yet.', 8);
}

/* ===== 9. One job: header, steps, events, actions ========================= */

function resetJobView() {
  byId('view-job').removeAttribute('data-job-id');
  byId('step-result').removeAttribute('data-step-id');
  byId('job-title').textContent = 'Loading job…';
  byId('job-status').textContent = '';
  for (const id of ['job-summary', 'events-list']) clear(byId(id));
  clear(byId('steps-table').tBodies[0]);
  for (const id of ['step-result', 'job-pause', 'job-action-result', 'job-cancel']) if (byId(id)) byId(id).hidden = true;
}

async function openJob(id) {
  if (!id) { navigate('#jobs'); return; }
  if (state.job.id === id) { renderJob(); openStream(id); return; }
  state.job = newJobState(id);
  resetJobView();
  try {
    // The first 500 events; the stream, opened with the last id as its cursor, sends the rest.
    const [job, events] = await Promise.all([api(`/api/v1/jobs/${enc(id)}`), api(`/api/v1/jobs/${enc(id)}/events?after=0&limit=500`)]);
    if (state.job.id !== id) return;
    if (!state.job.data) state.job.data = job;
    renderJob();
    appendEvents(events && events.events);
  } catch (e) {
    if (state.job.id !== id) return;
    byId('job-title').textContent = `Job ${id}`;
    reportError(e);
    if (e.status === 404 || e.status === 400) { if (!state.stream.es) openStream(null); return; }
  }
  if (state.job.id === id) openStream(id);
}

function renderJob() {
  const j = state.job.data;
  if (!j) return;
  byId('view-job').dataset.jobId = j.id;
  byId('job-title').textContent = j.job_type || 'job';
  const status = byId('job-status');
  if (status.textContent !== j.status) status.textContent = j.status;
  status.className = `status status-${token(j.status)}`;
  const pct = jobPct(j);
  const bar = byId('job-progress');
  bar.value = pct;
  bar.dataset.progress = String(pct);
  styleProgress(bar, j.status);
  byId('job-progress-text').textContent = `${pct}%`;
  renderJobActions(j);
  renderJobSummary(j);
  fillTable(byId('steps-table'), (Array.isArray(j.steps) ? j.steps : []).map(stepRow), 'No steps yet.', 10);
}

function renderJobActions(j) {
  const cancel = byId('job-cancel');
  if (cancel) {
    cancel.hidden = isFinished(j.status);
    cancel.textContent = j.cancel_requested_at ? 'Cancel requested' : 'Cancel job';
    cancel.disabled = Boolean(j.cancel_requested_at);
  }
  const paused = j.status === 'paused';
  byId('job-pause').hidden = !paused;
  if (!paused) return;
  const pause = j.pause && typeof j.pause === 'object' ? j.pause : {};
  kvList(byId('job-pause-details'), Object.entries(pause));
}

function renderJobSummary(j) {
  kvList(byId('job-summary'), [
    ['Id', el('span', { class: 'id', text: j.id })], ['Site', j.site], ['Priority', j.priority],
    ['Created', timeNode(j.created_at)], ['Started', timeNode(j.started_at)], ['Finished', timeNode(j.finished_at)],
    ['Cancel requested', j.cancel_requested_at ? timeNode(j.cancel_requested_at) : null],
    ['Target scope', j.target_scope], ['Params', j.params], ['Error', [j.error_code, j.error_message].filter(Boolean).join(': ') || null], ['Result', j.result],
  ]);
}

function stepRow(step) {
  const pct = Math.round(Number(step.progress) || (step.status === 'succeeded' ? 100 : 0));
  const error = step.error_code || step.error_message ? `${step.error_code || ''} ${step.error_message || ''}`.trim() : null;
  const row = el('tr', { dataset: { stepId: step.id }, onclick: () => loadStep(step.id) },
    td(step.key), td(step.kind), td(step.target, 'wrap'), td(pill(step.status, 'step-status')),
    td([progressNode(pct, step.status, 'step-progress'), ` ${pct}%`]), td(step.progress_message, 'wrap'),
    td(`${step.attempt ?? 0}/${step.max_attempts ?? '?'}`, 'num'), td(error, 'wrap'),
    td(timeNode(step.started_at)), td(timeNode(step.finished_at)));
  if (step.id === state.job.selectedStep) row.classList.add('selected');
  return row;
}

function eventItem(ev) {
  const level = ['debug', 'info', 'warn', 'error'].includes(ev.level) ? ev.level : 'other';
  const step = ev.task_id && state.job.data && (state.job.data.steps || []).find((s) => s.id === ev.task_id);
  const key = step ? step.key : null;
  const source = [ev.source, key ? `step ${key}` : null].filter(Boolean).join(' · ');
  const d = toDate(ev.ts);
  const data = ev.data !== null && ev.data !== undefined ? jsonDetails('data', ev.data) : null;
  return el('li', { class: `level-${level}`, dataset: { eventId: String(ev.id) } },
    el('time', { datetime: ev.ts, title: fmtAbs(ev.ts), text: d ? d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—' }),
    el('span', { class: 'ev-level', text: ev.level }),
    el('div', { class: 'ev-msg' }, el('span', { text: ev.message }), data),
    el('span', { class: 'ev-source', text: source }));
}

// Events arrive from the initial load and the stream, possibly overlapping: dedupe by id,
// keep ascending order, stay scrolled to the bottom when the reader was there.
function appendEvents(events) {
  if (!Array.isArray(events) || !events.length) return;
  const list = byId('events-list');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 30;
  const sorted = [...events].sort((a, b) => Number(a.id) - Number(b.id));
  for (const ev of sorted) {
    const id = Number(ev.id);
    if (!Number.isFinite(id) || state.job.eventIds.has(id)) continue;
    state.job.eventIds.add(id);
    const li = eventItem(ev);
    if (id > state.job.lastEventId) {
      list.append(li);
      state.job.lastEventId = id;
    } else {
      const next = [...list.children].find((n) => Number(n.dataset.eventId) > id);
      list.insertBefore(li, next || null);
    }
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function showActionResult(message, isError) {
  const box = byId('job-action-result');
  box.className = isError ? 'error-box' : 'info-box';
  box.textContent = message;
  box.hidden = false;
}

// Cancel ("cancel", {}) or resume ("resume", {resolution}) the open job, after a confirm().
async function jobAction(button, action, body, question) {
  const j = state.job.data;
  if (!j || !window.confirm(`${question} job ${j.job_type} ${j.id}?`)) return;
  button.disabled = true;
  try {
    const r = await api(`/api/v1/jobs/${enc(j.id)}/${action}`, { method: 'POST', body });
    showActionResult(`${question}: ${r && r.result ? r.result : 'done'}`);
  } catch (e) {
    showActionResult(e.message, true);
  } finally {
    button.disabled = action === 'cancel' && Boolean(state.job.data && state.job.data.cancel_requested_at);
  }
}

/* ===== 10. Step results =================================================== */

async function loadStep(stepId) {
  const jobId = state.job.id;
  state.job.selectedStep = stepId;
  for (const row of byId('steps-table').tBodies[0].rows) row.classList.toggle('selected', row.dataset.stepId === stepId);
  const box = byId('step-result');
  box.hidden = false;
  box.removeAttribute('data-step-id');
  clear(box).append(el('p', { class: 'muted', text: 'Loading step…' }));
  try {
    const step = await api(`/api/v1/jobs/${enc(jobId)}/steps/${enc(stepId)}`);
    if (state.job.id === jobId && state.job.selectedStep === stepId) renderStepResult(box, step);
  } catch (e) {
    clear(box).append(el('p', { class: 'error-box', text: e.message }));
  }
}

function renderStepResult(box, step) {
  clear(box);
  box.dataset.stepId = step.id;
  box.append(el('h3', null, `Step ${step.key || shortId(step.id)} `, pill(step.status, 'step-status')));
  box.append(kvList(el('dl', { class: 'kv' }), [
    ['Kind', step.kind], ['Target', step.target], ['Attempt', `${step.attempt ?? 0}/${step.max_attempts ?? '?'}`],
    ['Outcome', step.outcome], ['Error', [step.error_code, step.error_message].filter(Boolean).join(': ') || null],
  ]));
  const r = step.result;
  if (r && typeof r === 'object' && Array.isArray(r.verdicts)) box.append(safetyReport(r));
  else if (r && typeof r === 'object' && Array.isArray(r.blockers)) box.append(el('h4', { text: 'Blockers' }), blockerList(r.blockers));
  if (r === null || r === undefined) box.append(el('p', { class: 'muted', text: 'No result recorded.' }));
  else box.append(jsonDetails('Result (JSON)', r, !Array.isArray(r.verdicts)));
  if (step.params !== undefined && step.params !== null) box.append(jsonDetails('Params (JSON)', step.params));
}

function blockerList(blockers) {
  if (!blockers.length) return el('span', { class: 'muted', text: 'none' });
  return el('ul', { class: 'blockers' }, blockers.map((b) => {
    if (!b || typeof b !== 'object') return el('li', { text: String(b) });
    const vm = b.vm_name || b.vm ? ` ${b.vm_name || ''}${b.vm ? ` (${b.vm})` : ''}` : '';
    return el('li', null, el('strong', { text: b.kind || 'blocker' }), vm, b.detail ? ` — ${b.detail}` : '');
  }));
}

// cluster.safety_check report: a verdict per host, with blockers and capacity problems.
function safetyReport(r) {
  const cluster = (r.cluster && r.cluster.name) || (r.cluster && r.cluster.id) || '';
  const hosts = r.hosts || {};
  const head = el('p', null, `Cluster ${cluster}: ${hosts.usable ?? '?'} of ${hosts.total ?? '?'} hosts usable, ${r.required ?? '?'} required — `,
    el('span', { class: r.safe ? 'safe-yes' : 'safe-no', text: r.safe ? 'safe' : 'not safe' }));
  const rows = r.verdicts.map((v) => el('tr', { class: v.can_enter_maintenance === false ? 'has-conflict' : '' },
    td([v.name || v.host, v.name && v.host ? el('span', { class: 'id', text: ` ${v.host}` }) : null]),
    td(v.usable ? 'yes' : 'no'), td(v.can_enter_maintenance ? 'yes' : 'no'), td(v.healthy_after, 'num'),
    td(blockerList(Array.isArray(v.blockers) ? v.blockers : [])),
    td(Array.isArray(v.capacity_problems) && v.capacity_problems.length
      ? el('ul', { class: 'blockers' }, v.capacity_problems.map((p) => el('li', { text: typeof p === 'string' ? p : compact(p) })))
      : el('span', { class: 'muted', text: 'none' }))));
  const table = el('table', { class: 'grid verdicts' },
    el('thead', null, el('tr', null, ['Host', 'Usable', 'Can enter maintenance', 'Healthy after', 'Blockers', 'Capacity problems'].map((h) => el('th', { text: h })))),
    el('tbody', null, rows));
  return el('div', { class: 'verdicts-block' }, el('h4', { text: 'Safety verdicts' }), head, table);
}

/* ===== 11. New-job form =================================================== */

const ID_LIST_KINDS = { server_ids: 'servers', vcenter_host_ids: 'hosts' };
const STRING_LIST_KINDS = new Set(['bmc_addresses', 'ranges']);
const SINGLE_ID_KINDS = new Set(['vcenter_id', 'cluster_id', 'ome_endpoint_id', 'zfs_host_id']);
const SCOPE_HINTS = {
  server_ids: 'tick below and/or type ids, comma-separated', vcenter_host_ids: 'tick below and/or type ids, comma-separated',
  bmc_addresses: 'host[:port], comma-separated', ranges: '10.0.0.0/24, a.b.c.d-a.b.c.e or a.b.c.d, comma-separated', all_servers: '',
};
const splitList = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function formError(message) {
  const box = byId('job-form-error');
  box.textContent = message || '';
  box.hidden = !message;
}

async function showJobForm(show) {
  const form = byId('job-form');
  if (!form) return;
  form.hidden = !show;
  if (!show) return;
  if (!state.jobTypes) {
    try {
      const data = await api('/api/v1/job-types');
      state.jobTypes = (data.job_types || []).filter((t) => t.enabled !== false)
        .sort((a, b) => String(a.job_type).localeCompare(String(b.job_type)));
    } catch (e) { formError(e.message); return; }
    const select = clear(byId('job-type'));
    for (const t of state.jobTypes) select.append(el('option', { value: t.job_type, text: t.job_type + (t.mutating ? ' (changes devices)' : '') }));
    onJobTypeChange();
  }
  byId('job-type').focus();
}

const currentJobType = () => (state.jobTypes || []).find((t) => t.job_type === byId('job-type').value);

function onJobTypeChange() {
  const type = currentJobType();
  formError(null);
  byId('job-type-description').textContent = type ? `${type.description || ''} · agent ${type.agent_kind || '?'}` : '';
  const kinds = clear(byId('scope-kind'));
  for (const k of (type && type.scope_kinds) || []) kinds.append(el('option', { value: k, text: k }));
  onScopeKindChange();
  renderParams(type ? type.params_schema : null);
}

function onScopeKindChange() {
  const kind = byId('scope-kind').value;
  const all = kind === 'all_servers';
  byId('scope-value').hidden = all;
  byId('scope-all-label').hidden = !all;
  byId('scope-picker').hidden = !ID_LIST_KINDS[kind];
  state.pickerChecked.clear();
  const hint = SCOPE_HINTS[kind] ?? (SINGLE_ID_KINDS.has(kind) ? 'one UUID' : 'a JSON value or text');
  byId('scope-value').placeholder = hint;
  byId('scope-hint').textContent = hint;
  if (ID_LIST_KINDS[kind]) loadPicker();
}

let pickerTimer = null;
async function loadPicker() {
  const kind = byId('scope-kind').value;
  const section = ID_LIST_KINDS[kind];
  if (!section) return;
  const list = byId('scope-picker-list');
  try {
    const data = await api(`/api/v1/inventory?q=${enc(byId('scope-picker-q').value.trim())}&limit=50`);
    if (byId('scope-kind').value !== kind) return;
    const items = Array.isArray(data[section]) ? data[section] : [];
    const label = (x) => (section === 'servers'
      ? [x.hostname, x.service_tag, x.bmc_address].filter(Boolean).join(' · ')
      : [x.name, x.cluster, x.server_name].filter(Boolean).join(' · '));
    clear(list).append(...items.map((x) => el('label', null,
      el('input', { type: 'checkbox', value: x.id, checked: state.pickerChecked.has(x.id),
        onchange: (e) => (e.target.checked ? state.pickerChecked.add(x.id) : state.pickerChecked.delete(x.id)) }),
      ` ${label(x) || x.id} `, el('span', { class: 'id', text: shortId(x.id) }))));
    if (!items.length) list.append(el('p', { class: 'muted', text: 'Nothing found.' }));
  } catch (e) { clear(list).append(el('p', { class: 'error-box', text: e.message })); }
}

function readScope() {
  const kind = byId('scope-kind').value;
  const text = byId('scope-value').value.trim();
  if (!kind) throw new Error('target_scope: choose a scope kind');
  let value;
  if (kind === 'all_servers') {
    if (!byId('scope-all').checked) throw new Error('target_scope.all_servers: tick the box to target every server');
    value = true;
  } else if (ID_LIST_KINDS[kind]) {
    value = [...new Set([...state.pickerChecked, ...splitList(text)])];
  } else if (STRING_LIST_KINDS.has(kind)) {
    value = splitList(text);
  } else if (SINGLE_ID_KINDS.has(kind)) {
    value = text;
  } else {
    try { value = JSON.parse(text); } catch { value = text; }
  }
  if (value === '' || (Array.isArray(value) && !value.length)) throw new Error(`target_scope.${kind}: is required`);
  return { [kind]: value };
}

function paramKind(spec) {
  if (Array.isArray(spec.enum)) return 'enum';
  if (spec.type === 'boolean') return 'bool';
  if (spec.type === 'integer' || spec.type === 'number') return 'number';
  if (spec.type === 'string') return 'string';
  if (spec.type === 'array' && spec.items && spec.items.type === 'string') return 'list';
  return 'json';
}

// Schema patterns are PostgreSQL regexes that mostly read the same in JavaScript (not as the
// pattern attribute: Chromium compiles that with the stricter "v" flag). One that does not
// compile is left to the server.
function compilePattern(pattern) {
  if (typeof pattern !== 'string') return null;
  try { return new RegExp(pattern, 'u'); } catch { return null; }
}

function paramInput(id, spec, kind, required) {
  const base = { id, name: id };
  if (kind === 'enum') {
    return el('select', base, el('option', { value: '', text: required ? '— choose —' : '(default)' }),
      spec.enum.map((v, i) => el('option', { value: String(i), text: typeof v === 'string' ? v : compact(v) })));
  }
  if (kind === 'bool') return el('input', { ...base, type: 'checkbox', checked: spec.default === true });
  if (kind === 'number') {
    return el('input', { ...base, type: 'number', min: spec.minimum, max: spec.maximum, step: spec.type === 'integer' ? 1 : 'any',
      placeholder: spec.default !== undefined ? `default ${spec.default}` : '' });
  }
  if (kind === 'string') {
    return el('input', { ...base, type: 'text', spellcheck: 'false', maxlength: spec.maxLength,
      placeholder: spec.default !== undefined ? `default ${spec.default}` : '' });
  }
  if (kind === 'list') {
    const options = spec.items && Array.isArray(spec.items.enum) ? spec.items.enum.join(', ') : 'comma-separated';
    return el('input', { ...base, type: 'text', spellcheck: 'false', placeholder: options });
  }
  return el('textarea', { ...base, spellcheck: 'false', placeholder: spec.type === 'array' ? '[ … ] (JSON)' : '{ … } (JSON)' });
}

function renderParams(schema) {
  const box = clear(byId('job-params'));
  state.paramSpecs.clear();
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const names = Object.keys(props);
  if (!names.length) { box.append(el('p', { class: 'muted', text: 'This job type takes no parameters.' })); return; }
  for (const name of names) {
    const spec = props[name] || {};
    const kind = paramKind(spec);
    const id = `param-${name}`;
    state.paramSpecs.set(name, { spec, kind, required: required.has(name), pattern: compilePattern(spec.pattern) });
    const hints = [spec.description, spec.minimum !== undefined ? `min ${spec.minimum}` : null,
      spec.maximum !== undefined ? `max ${spec.maximum}` : null, spec.pattern ? `pattern ${spec.pattern}` : null].filter(Boolean);
    box.append(el('label', { for: id, class: required.has(name) ? 'required' : '', text: name }),
      el('div', null, paramInput(id, spec, kind, required.has(name)), hints.length ? el('div', { class: 'hint', text: hints.join(' · ') }) : null));
  }
}

// One parameter's value, undefined when left empty. The inputs carry min/max/step and
// maxlength, so the browser's own validity check covers numbers and string lengths.
function readParam(name, { spec, kind, pattern }) {
  const input = byId(`param-${name}`);
  if (kind === 'bool') return input.checked === (spec.default === true) ? undefined : input.checked;
  if (!input.checkValidity()) throw new Error(`params.${name}: ${input.validationMessage}`);
  const text = input.value.trim();
  if (text === '') return undefined;
  if (kind === 'enum') return spec.enum[Number(input.value)];
  if (kind === 'list') {
    const items = splitList(text);
    const allowed = spec.items && spec.items.enum;
    const bad = Array.isArray(allowed) ? items.find((x) => !allowed.includes(x)) : undefined;
    if (bad !== undefined) throw new Error(`params.${name}: ${bad} is not one of ${allowed.join(', ')}`);
    return items;
  }
  if (kind === 'number') return Number(text);
  if (kind === 'string' && pattern && !pattern.test(input.value)) throw new Error(`params.${name}: must match ${spec.pattern}`);
  if (kind === 'string') return input.value;
  try { return JSON.parse(text); } catch { throw new Error(`params.${name}: is not valid JSON`); }
}

function buildJobRequest() {
  const type = currentJobType();
  if (!type) throw new Error('job_type: choose a job type');
  const params = {};
  for (const [name, p] of state.paramSpecs) {
    const value = readParam(name, p);
    if (value === undefined && p.required) throw new Error(`params.${name}: is required`);
    if (value !== undefined) params[name] = value;
  }
  const body = { job_type: type.job_type, target_scope: readScope(), params };
  const priority = byId('job-priority');
  if (!priority.checkValidity()) throw new Error(`priority: ${priority.validationMessage}`);
  if (priority.value.trim() !== '') body.priority = Number(priority.value);
  return body;
}

function resetJobForm() {
  for (const id of ['scope-value', 'scope-picker-q', 'job-priority']) byId(id).value = '';
  byId('scope-all').checked = false;
  onJobTypeChange();
}

async function submitJobForm(event) {
  event.preventDefault();
  formError(null);
  let body;
  try { body = buildJobRequest(); } catch (e) { formError(e.message); return; }
  byId('job-submit').disabled = true;
  try {
    const r = await api('/api/v1/jobs', { method: 'POST', body });
    resetJobForm();
    navigate(`#job/${enc(r.id)}`);
  } catch (e) { formError(e.message); }
  byId('job-submit').disabled = false;
}

/* ===== 12. Agents and limits ============================================== */

function runningStepList(steps) {
  if (!Array.isArray(steps) || !steps.length) return el('span', { class: 'muted', text: 'idle' });
  return el('ul', { class: 'plain' }, steps.map((s) => {
    const pct = s.progress === null || s.progress === undefined ? '' : ` ${Math.round(Number(s.progress))}%`;
    return el('li', null, el('a', { href: `#job/${enc(s.job_id)}`, text: `${s.kind} → ${s.target}` }), pct,
      s.progress_message ? el('span', { class: 'hint', text: ` ${s.progress_message}` }) : null, ' ', timeNode(s.started_at));
  }));
}

function agentRow(a) {
  const capacity = Number(a.capacity) || 0;
  const running = Number(a.running) || 0;
  const load = el('progress', { class: running >= capacity && capacity > 0 ? 'load-full' : '', max: Math.max(capacity, 1), value: running });
  return el('tr', { dataset: { agentId: a.id } },
    td(a.kind), td([a.hostname, el('div', { class: 'id', text: shortId(a.id) })]), td(a.version),
    td(pill(a.status, 'agent-status')), td([load, ` ${running}/${capacity}`]),
    td(Array.isArray(a.step_kinds) ? a.step_kinds.join(', ') : null, 'wrap'), td(runningStepList(a.running_steps)),
    td(timeNode(a.connected_at)), td(timeNode(a.last_seen_at)));
}

function renderAgents() {
  fillTable(byId('agents-table'), state.agents.map(agentRow), 'No agents connected.', 9);
}

function renderLimits() {
  const rows = state.limits.map((l) => el('tr', { dataset: { target: l.target } },
    td(l.target), td(l.kind), td(l.running, 'num'), td(l.running_mutating, 'num'), td(l.limit_total, 'num'),
    td(l.limit_mutating, 'num'), td(l.min_interval_ms === null || l.min_interval_ms === undefined ? null : `${l.min_interval_ms} ms`, 'num')));
  fillTable(byId('limits-table'), rows, 'Nothing running now.', 7);
}

/* ===== 13. Inventory ====================================================== */

// A link to a related server, host or VM: a search that filters the inventory down to it.
const relatedLink = (query, label) => el('a', { href: `#inventory?q=${enc(query || '')}`, text: label || shortId(query) });
const joinNodes = (nodes) => nodes.flatMap((n, i) => (i ? [', ', n] : [n]));

function conflictMarker(count) {
  if (!count) return td('');
  return td(el('span', { class: 'conflict-marker', title: 'open identity conflict', text: `⚠ ${count > 1 ? count : ''} conflict${count > 1 ? 's' : ''}` }));
}

function conflictCounts(data) {
  const counts = new Map();
  for (const s of data.servers || []) if (Number(s.open_conflicts) > 0) counts.set(s.id, Number(s.open_conflicts));
  for (const c of data.conflicts || []) {
    if (c.status && c.status !== 'open') continue;
    for (const id of c.server_ids || []) if (!counts.has(id)) counts.set(id, 1);
  }
  return counts;
}

function serverRow(s, counts) {
  const n = counts.get(s.id) || 0;
  const hosts = (s.hosts || []).map((h) => relatedLink(h.name || h.id, h.name));
  return el('tr', { class: n ? 'has-conflict' : '', dataset: { id: s.id } },
    conflictMarker(n), td(s.hostname), td(s.service_tag), td(s.bmc_address), td(s.model), td(s.power_state),
    td(s.health ? pill(s.health, 'pill') : null), td(hosts.length ? joinNodes(hosts) : null),
    td(s.system_uuid, 'id'));
}

function hostRow(h, counts) {
  const n = counts.get(h.server_id) || 0;
  const server = h.server_id ? relatedLink(h.service_tag || h.server_name || h.server_id, h.server_name || h.service_tag) : null;
  return el('tr', { class: n ? 'has-conflict' : '', dataset: { id: h.id, serverId: h.server_id || '' } },
    conflictMarker(n), td(h.name), td(h.vcenter), td(h.cluster), td(server), td(h.connection_state),
    td(h.maintenance_mode === true ? 'yes' : h.maintenance_mode === false ? 'no' : h.maintenance_mode),
    td(h.link_evidence), td(h.vm_count, 'num'));
}

function vmRow(v) {
  return el('tr', { dataset: { id: v.id, hostId: v.host_id || '' } },
    td(v.name), td(v.host_id ? relatedLink(v.host_name || v.host_id, v.host_name) : null), td(v.power_state),
    td(v.guest_hostname), td(Array.isArray(v.ip_addresses) ? v.ip_addresses.join(', ') : null, 'wrap'));
}

function inventoryConflictRow(c, names) {
  return el('tr', { class: 'has-conflict', dataset: { id: c.id } },
    conflictMarker(1), td(c.kind), td(pill(c.status, 'pill')), td(c.detail === undefined ? null : valueNode(c.detail), 'wrap'),
    td(joinNodes((c.server_ids || []).map((id) => relatedLink(id, names.get(id))))), td(timeNode(c.created_at)));
}

function renderInventory(data, q) {
  const counts = conflictCounts(data);
  const names = new Map((data.servers || []).map((s) => [s.id, s.hostname || s.service_tag]));
  const { servers = [], hosts = [], vms = [], conflicts = [] } = data;
  fillTable(byId('inventory-servers'), servers.map((s) => serverRow(s, counts)), 'No servers match.', 9);
  fillTable(byId('inventory-hosts'), hosts.map((h) => hostRow(h, counts)), 'No ESXi hosts match.', 9);
  fillTable(byId('inventory-vms'), vms.map(vmRow), 'No VMs match.', 5);
  fillTable(byId('inventory-conflicts'), conflicts.map((c) => inventoryConflictRow(c, names)), 'No conflicts.', 6);
  byId('inventory-summary').textContent = `${servers.length} servers · ${hosts.length} hosts · ${vms.length} VMs · ${conflicts.length} conflicts${q ? ` for “${q}”` : ''}`;
  byId('view-inventory').dataset.query = q;
}

async function searchInventory(q) {
  byId('inventory-q').value = q;
  const seq = ++state.inventorySeq;
  byId('inventory-summary').textContent = 'Searching…';
  try {
    const data = await api(`/api/v1/inventory?q=${enc(q)}&limit=50`);
    if (seq === state.inventorySeq) renderInventory(data || {}, q);
  } catch (e) {
    if (seq !== state.inventorySeq) return;
    byId('inventory-summary').textContent = e.message;
    reportError(e);
  }
}

/* ===== 14. Schedules and identity conflicts =============================== */

function scheduleRow(s) {
  return el('tr', { dataset: { id: s.id } },
    td(s.name), td(s.job_type), td(valueNode(s.target_scope), 'wrap'), td(valueNode(s.params), 'wrap'),
    td(fmtSeconds(s.interval_seconds)), td(pill(s.enabled ? 'enabled' : 'disabled', 'pill')),
    td(timeNode(s.next_run_at)), td(timeNode(s.last_run_at)),
    td(s.last_job_id ? el('a', { href: `#job/${enc(s.last_job_id)}`, text: shortId(s.last_job_id) }) : null));
}

// Fetches a list once per visit and fills the view's table; the view gets data-loaded.
async function loadList(view, path, key, rowFn, emptyText, columns) {
  try {
    const data = await api(path);
    fillTable(byId(`${view}-table`), ((data && data[key]) || []).map(rowFn), emptyText, columns);
    byId(`view-${view}`).dataset.loaded = 'true';
  } catch (e) { reportError(e); }
}

const loadSchedules = () => loadList('schedules', '/api/v1/schedules', 'schedules', scheduleRow, 'No schedules.', 9);

function conflictRow(c) {
  const known = new Set(['id', 'kind', 'status', 'created_at']);
  const pairs = Object.entries(c).filter(([k]) => !known.has(k)).map(([k, v]) => [k,
    k === 'server_ids' && Array.isArray(v) ? el('span', null, joinNodes(v.map((id) => relatedLink(id, id)))) : v]);
  return el('tr', { class: 'has-conflict', dataset: { id: c.id } },
    td([el('span', { class: 'conflict-marker', text: '⚠ ' }), el('span', { class: 'id', text: shortId(c.id) })]),
    td(c.kind), td(pill(c.status, 'pill')), td(timeNode(c.created_at)), td(kvList(el('dl', { class: 'kv' }), pairs), 'wrap'));
}

const loadConflicts = () => loadList('conflicts', '/api/v1/identity-conflicts', 'identity_conflicts', conflictRow, 'No open conflicts.', 5);

/* ===== 15. Wiring and start =============================================== */

function wireOperatorControls() {
  const on = (id, type, handler) => { const node = byId(id); if (node) node.addEventListener(type, handler); };
  on('new-job', 'click', () => navigate('#jobs/new'));
  on('job-form-close', 'click', () => navigate('#jobs'));
  on('job-form', 'submit', submitJobForm);
  on('job-type', 'change', onJobTypeChange);
  on('scope-kind', 'change', onScopeKindChange);
  on('scope-picker-q', 'input', () => { clearTimeout(pickerTimer); pickerTimer = setTimeout(loadPicker, 250); });
  on('job-cancel', 'click', (e) => jobAction(e.currentTarget, 'cancel', {}, 'Cancel'));
  for (const r of ['retry', 'evacuate', 'skip_host']) {
    on(`job-resume-${r}`, 'click', (e) => jobAction(e.currentTarget, 'resume', { resolution: r }, `Resume (${r})`));
  }
}

function wireUp() {
  for (const b of document.querySelectorAll('.nav button')) b.addEventListener('click', () => navigate(`#${b.dataset.view}`));
  byId('logout').addEventListener('click', logout);
  byId('notice-close').addEventListener('click', () => { byId('notice').hidden = true; });
  byId('inventory-form').addEventListener('submit', (e) => {
    e.preventDefault();
    navigate(`#inventory?q=${enc(byId('inventory-q').value.trim())}`);
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('pagehide', closeStream);
}

async function boot() {
  wireUp();
  try {
    await loadWhoami();
  } catch (e) {
    if (e.status === 401) return;
    reportError(e);
  }
  if (state.me && state.me.role === 'operator') wireOperatorControls();
  route();
}

boot();
