// graphile-worker on the same PostgreSQL as `scripts/bench jobs`, measured the same way as
// tests/bench/job_path_bench.cpp so that our figures can be read beside it (scripts/bench-ratio).
//
//   node drain.mjs PGHOST PGPORT [PICKUP_JOBS=1000] [THROUGHPUT_JOBS=20000]
//
// PGHOST is the server's socket directory; user postgres, trust. In a fresh database
// bench_graphile_<pid> (dropped at the end): graphile's schema through its own migrations, an
// in-process runner (concurrency 16) whose task `noop` only notes when it started; then pickup
// latency (add_job commit returned -> task started, one job at a time) and throughput (4
// concurrent creators, 1 then 25 add_job calls per commit). Prints lines shaped like the C++
// bench's; appends figures (graphile.*) to $DCOPS_BENCH_FIGURES when set. Exits non-zero on any
// error or after 10 minutes, dropping its database and stopping the runner where it can.
import { appendFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Logger, run, runMigrations } from "graphile-worker";
import pg from "pg";

const usage = "usage: node drain.mjs PGHOST PGPORT [PICKUP_JOBS=1000] [THROUGHPUT_JOBS=20000]";
const [host, port, pickupArg = "1000", throughputArg = "20000"] = process.argv.slice(2);
const pickupJobs = Number(pickupArg), throughputJobs = Number(throughputArg);
if (!host || !/^\d+$/.test(port ?? "") || !(pickupJobs > 0) || !(throughputJobs > 0) ||
    !Number.isInteger(pickupJobs) || !Number.isInteger(throughputJobs)) {
  console.error(usage);
  process.exit(2);
}

// The version actually installed, not the one we meant to pin: the header must not lie.
const version = createRequire(import.meta.url)("graphile-worker/package.json").version;
const CONCURRENCY = 16;
const CREATORS = 4;
const dbname = `bench_graphile_${process.pid}`;
const connection = (database) => ({ host, port: Number(port), user: "postgres", database });
// One job per add_job call, a small JSON payload like our bench's scope; `SELECT id FROM f()`
// runs the function once (a `(f()).id` target list could expand it more than once).
const ADD_JOB = "SELECT id FROM graphile_worker.add_job('noop', $1::json)";
// graphile's own bulk call: jobs $1..$2 in one add_jobs (one statement, one commit). Within a
// transaction, add_job after add_job upserts the same task row each time, so 4 creators' 25-job
// transactions wait on one another's row lock; add_jobs is how graphile submits in bulk.
const ADD_JOBS = "SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(" +
  "ROW('noop', json_build_object('t', i), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) " +
  "FROM generate_series($1::int, $2::int) i))";

// Quiet: graphile logs every completed job at info level; only warnings and errors matter here.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});

// What the task saw. started: job id -> performance.now() when its task began (pickup phase);
// waiters: job id -> resolve, for a job whose start we are waiting on.
const started = new Map();
const waiters = new Map();
let recordStarts = false;
let ran = 0, target = Infinity, allRan = null;  // throughput phase: completion count and its promise's resolve
const taskList = {
  noop: async (_payload, helpers) => {
    const now = performance.now();
    if (recordStarts) {
      started.set(helpers.job.id, now);
      waiters.get(helpers.job.id)?.();
    }
    if (++ran === target) allRan?.();
  },
};

let admin = null, counter = null, pool = null, runner = null, dbCreated = false;
const creators = [];
// 'error' events of idle connections: said, not fatal (a query on a broken one fails the run
// anyway); without a listener, node would crash on them.
const onConnectionError = (err) => { if (!finishing) console.error(`graphile-worker bench: connection error: ${err.message}`); };

// Rejects after ms: a wait that would otherwise hang until the 10-minute limit.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const percentile = (sorted, p) => sorted[Math.min(Math.round(p * (sorted.length - 1)), sorted.length - 1)];

function figure(key, value, unit, better) {
  const path = process.env.DCOPS_BENCH_FIGURES;
  if (path) appendFileSync(path, `${key}\t${Number(value.toPrecision(6))}\t${unit}\t${better}\n`);
}

// Resolves when graphile's job table is empty. A worker does not wait for its completeJob (the
// DELETE) before taking its next job, so a job's task has run a little before its row is gone.
async function drained(what) {
  const limit = performance.now() + 30_000;
  // 0.17 keeps jobs in graphile_worker._private_jobs; graphile_worker.jobs is a view over it.
  while (Number((await counter.query("SELECT count(*) AS n FROM graphile_worker.jobs")).rows[0].n) !== 0) {
    if (performance.now() > limit) throw new Error(`jobs still in graphile_worker.jobs 30 s ${what}`);
    await sleep(2);
  }
}

async function pickup(client) {
  recordStarts = true;
  const ms = [];
  for (let i = 0; i < pickupJobs; ++i) {
    const id = (await client.query(ADD_JOB, [JSON.stringify({ p: i })])).rows[0].id;
    const committed = performance.now();  // autocommit: add_job's commit has returned
    // The task may already have started (its notification can overtake our result); then the
    // latency is below what a clock here can see: 0.
    if (!started.has(id)) {
      await within(new Promise((resolve) => waiters.set(id, resolve)), 10_000,
                   `job ${id} was not picked up within 10 s`);
      waiters.delete(id);
    }
    ms.push(Math.max(0, started.get(id) - committed));
    started.delete(id);
  }
  recordStarts = false;
  ms.sort((a, b) => a - b);
  const [p50, p90, p99, max] = [0.5, 0.9, 0.99, 1].map((p) => percentile(ms, p));
  console.log(`pickup latency over ${pickupJobs} jobs (add_job commit -> task started):`);
  console.log(`  p50 ${p50.toFixed(2)} ms  p90 ${p90.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  max ${max.toFixed(2)} ms`);
  figure("graphile.pickup_p50_ms", p50, "ms", "lower");
  figure("graphile.pickup_p99_ms", p99, "ms", "lower");
}

// perCommit jobs per transaction, one add_job each; or, `bulk`, one add_jobs call of perCommit.
async function throughput(jobs, perCommit, key, bulk = false) {
  await drained("after the previous phase's tasks ran");
  ran = 0;
  target = jobs;
  const allDone = new Promise((resolve) => { allRan = resolve; });
  const t0 = performance.now();
  let next = 0, createdAt = 0;
  await Promise.all(creators.map(async (client) => {
    for (;;) {
      const first = next;  // one event loop: claiming a slice needs no atomics
      next += perCommit;
      if (first >= jobs) break;
      const n = Math.min(perCommit, jobs - first);
      if (bulk) {
        await client.query(ADD_JOBS, [first, first + n - 1]);
        continue;
      }
      if (perCommit > 1) await client.query("BEGIN");
      for (let i = first; i < first + n; ++i) await client.query(ADD_JOB, [JSON.stringify({ t: i })]);
      if (perCommit > 1) await client.query("COMMIT");
    }
    createdAt = Math.max(createdAt, performance.now());
  }));
  await allDone;
  // Our bench stops its clock when the last job's completion has committed (it hears the job's
  // job_finished); so does this one: when graphile's table is empty (deleted on completion).
  await drained("after every task ran");
  const doneAt = performance.now();
  if (ran !== jobs) throw new Error(`${ran} task runs for ${jobs} jobs`);
  target = Infinity;
  const createS = (createdAt - t0) / 1000, totalS = (doneAt - t0) / 1000;
  console.log(`throughput of ${jobs} one-step no-op jobs, ${CREATORS} concurrent creators, ${perCommit} job(s) per commit` +
              `${bulk ? " in one add_jobs call" : ""}, fsync on:`);
  console.log(`  created in ${createS.toFixed(2)} s (${(jobs / createS).toFixed(0)} jobs/s); ` +
              `all succeeded after ${totalS.toFixed(2)} s (${(jobs / totalS).toFixed(0)} jobs/s end to end)`);
  figure(`graphile.${key}_jobs_per_s`, jobs / totalS, "jobs/s", "higher");
}

async function main() {
  admin = new pg.Client(connection("postgres"));
  admin.on("error", onConnectionError);
  await admin.connect();
  const fsync = (await admin.query("SHOW fsync")).rows[0].fsync;
  if (fsync !== "on") console.error(`graphile-worker bench: warning: fsync is ${fsync}, figures are not comparable`);
  await admin.query(`CREATE DATABASE ${dbname}`);
  dbCreated = true;

  // graphile's docs recommend a pool of concurrency + 2 (one connection stays on LISTEN).
  pool = new pg.Pool({ ...connection(dbname), max: CONCURRENCY + 2 });
  pool.on("error", onConnectionError);
  pool.on("connect", (client) => client.on("error", onConnectionError));  // graphile asks for both handlers
  await runMigrations({ pgPool: pool, logger });
  counter = new pg.Client(connection(dbname));  // counts jobs, outside graphile's pool
  counter.on("error", onConnectionError);
  await counter.connect();
  for (let c = 0; c < CREATORS; ++c) {
    const client = new pg.Client(connection(dbname));
    client.on("error", onConnectionError);
    creators.push(client);
    await client.connect();
  }

  // pollInterval left at its default: new jobs reach the runner by LISTEN/NOTIFY.
  runner = await run({ pgPool: pool, concurrency: CONCURRENCY, noHandleSignals: true, logger, taskList });
  // A runner that dies mid-run fails the bench now, not after the 10-minute limit.
  runner.promise.catch((err) => finish(1, new Error(`runner stopped: ${err?.message ?? err}`)));

  console.log(`graphile-worker ${version} (concurrency ${CONCURRENCY}), same PostgreSQL:`);
  await pickup(creators[0]);
  await throughput(throughputJobs, 1, "noop_1_per_commit");
  await throughput(throughputJobs, 25, "noop_25_per_commit");
  await throughput(throughputJobs, 25, "noop_bulk_25", true);
}

// Stops the runner, drops the database, exits; once, whoever calls first (main's end, a runner
// failure, the deadline). Each step is bounded so that a wedged one cannot keep us alive.
let finishing = false;
async function finish(code, err) {
  if (finishing) return;
  finishing = true;
  if (err) console.error(`graphile-worker bench failed: ${err.message ?? err}`);
  const step = async (what, fn) => {
    try {
      await within(Promise.resolve().then(fn), 30_000, `${what} took longer than 30 s`);
    } catch (e) {
      console.error(`graphile-worker bench: cleanup: ${what}: ${e.message ?? e}`);
      code ||= 1;
    }
  };
  if (runner) await step("stopping the runner", () => runner.stop());
  if (pool) await step("closing the pool", () => pool.end());
  for (const c of [...creators, counter].filter(Boolean)) await step("closing a connection", () => c.end());
  // WITH (FORCE): a connection left behind by a failed run must not keep the database alive.
  if (dbCreated) await step(`dropping ${dbname}`, () => admin.query(`DROP DATABASE IF EXISTS ${dbname} WITH (FORCE)`));
  if (admin) await step("closing the admin connection", () => admin.end());
  process.exit(code);
}

setTimeout(() => finish(1, new Error("did not finish within 10 minutes")), 10 * 60_000);
main().then(() => finish(0), (err) => finish(1, err));
