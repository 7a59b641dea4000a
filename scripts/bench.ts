/**
 * `npm run bench`: the service under load, every feature on (auth, rate limits, the outbox drain
 * to MySQL and Kafka), on the real local stack: the local cloud (MariaDB, Redis, the HTTP gateway)
 * and `workerd serve` with the bundle as two services, exactly as `npm start` runs them, plus a
 * bare one-line Worker in the same workerd process as the ceiling. Load comes from undici in a
 * worker thread (scripts/bench-load.ts) over loopback. See BENCHMARKS.md for the method.
 *
 *   npm run bench                       every scenario, 3 runs each, writes BENCHMARKS.md
 *   npm run bench -- --only burst,bare  some scenarios (BENCHMARKS.md untouched unless --out)
 *   npm run bench -- --quick            a smoke run with small numbers
 *
 *   npm run bench -- --drain            also scripts/bench-drain.ts (`npm run bench:drain`, its
 *                                       own stack) afterwards; without it, BENCHMARKS.md keeps the
 *                                       drain figures of the last run that had them
 *
 * Options: --runs N (3), --only a,b (scenario names, and `drain`), --drain, --quick,
 * --duration S (10), --connections N (64), --burst-connections N (1000), --patience S (3: the
 * longest wait, before each run, for an idle machine), --out FILE, --no-write, --json FILE (this
 * run's medians), --before FILE (a --json file of another commit: the "before" column; by
 * default the one kept in BENCHMARKS.md), --workerd current|pre (the release that serves it:
 * wrangler's, or 1.20261013.1, the last before the HTTP front end's regression).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { sign } from "hono/jwt";
import { startLocalCloud } from "../local/cloud.ts";
import { freePort } from "../local/servers/process.ts";
import { bundleWorker, frontsFromEnv, type RunningWorker, startWorker } from "../local/worker.ts";
import { workerBindings } from "../local/worker-bindings.ts";
import type {
  BurstRequest,
  LoadInit,
  LoadReply,
  LoadRequest,
  LoadSummary,
  TimedRequest,
} from "./bench-load.ts";
import { cpuTicks, machineTicks } from "./bench-load.ts";
import { sectionOf } from "./benchmarks-file.ts";

const ROOT = resolve(import.meta.dirname, "..");
const HOST = "127.0.0.1";

// ---------------------------------------------------------------------------------------------
// Options

const SCENARIOS = [
  "burst",
  "burst-10x",
  "saturate",
  "sold-out",
  "get-event",
  "touch-nothing",
  "bare",
] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: "string" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    duration: { type: "string" },
    connections: { type: "string" },
    "burst-connections": { type: "string" },
    out: { type: "string" },
    "no-write": { type: "boolean", default: false },
    drain: { type: "boolean", default: false },
    json: { type: "string" },
    before: { type: "string" },
    patience: { type: "string" },
    workerd: { type: "string", default: "current" },
    fronts: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

const RUNTIME = args.workerd === "pre" ? "pre" : "current";
/** Front processes beside the objects' one (0: one process, as before the split). */
const FRONTS = frontsFromEnv(args.fronts === undefined ? process.env : { FRONTS: args.fronts });
if (args.workerd !== "pre" && args.workerd !== "current") {
  throw new Error("--workerd: current (what wrangler brings) or pre (1.20261013.1)");
}

if (args.help) {
  console.log(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]);
  process.exit(0);
}

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};

const quick = args.quick === true;
const only = args.only?.split(",").map((s) => s.trim()) ?? [...SCENARIOS];
for (const name of only) {
  if (!(SCENARIOS as readonly string[]).includes(name) && name !== "drain") {
    throw new Error(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(", ")}, drain)`);
  }
}
const selected = SCENARIOS.filter((s) => only.includes(s));
/** scripts/bench-drain.ts, run after the scenarios on a stack of its own. */
const withDrain = only.includes("drain") || args.drain === true;
const fullRun = selected.length === SCENARIOS.length && !quick;

const CONFIG = {
  runs: Math.floor(positive("runs", args.runs, quick ? 1 : 3)),
  durationMs: positive("duration", args.duration, quick ? 2 : 10) * 1000,
  connections: Math.floor(positive("connections", args.connections, 64)),
  burstConnections: Math.floor(positive("burst-connections", args["burst-connections"], 1000)),
  burst: quick ? { users: 250, stock: 50 } : { users: 2_500, stock: 500 },
  burst10x: quick ? { users: 2_500, stock: 500 } : { users: 25_000, stock: 5_000 },
  saturateStock: 10_000_000,
  /** Tokens minted per run of the fresh-user scenarios: the run stops early when they run out. */
  saturateMax: quick ? 10_000 : 40_000,
  soldOutMax: quick ? 20_000 : 100_000,
  plainMax: 1_000_000,
  requestTimeoutMs: 30_000,
  burstTimeoutMs: 60_000,
  warmupMs: quick ? 500 : 1_000,
  /** How long to wait, before each run, for workerd and the machine to be idle. */
  patienceMs: positive("patience", args.patience, 3) * 1000,
};

const outFile =
  args["no-write"] === true
    ? undefined
    : args.out !== undefined
      ? resolve(args.out)
      : fullRun
        ? join(ROOT, "BENCHMARKS.md")
        : undefined;

// ---------------------------------------------------------------------------------------------
// Results

interface RunResult {
  summary: LoadSummary;
  /** Answers that were not what the scenario expects. */
  errors: number;
  /** 201 answers (claims issued), and the event's `issued` read back afterwards. */
  issued: number;
  issuedServer?: number;
}

interface Medians {
  runs: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Bursts: latency from the common instant (p50, p99, max), medians of runs. */
  fromInstant?: { p50: number; p99: number; max: number };
  workerdUsPerReq: number;
  /** Per process: the fronts' CPU per request, the objects' per request and per issued claim. */
  frontUsPerReq: number;
  objectsUsPerReq: number;
  objectsUsPerIssued: number | null;
  /** The load thread's CPU as a share of one core during the load. */
  loadCpuPct: number;
  /** Other processes' CPU (not the stack's) during the load, as a share of one core. */
  otherCpuPct: number;
  statuses: Record<string, number>;
  errorsPerRun: number[];
  issuedPerRun: number[];
  /** Other answers seen (counts summed over runs), for the report. */
  unexpected: Record<string, number>;
  failed?: string;
}

interface BenchFile {
  meta: Meta;
  config: typeof CONFIG;
  results: Partial<Record<ScenarioName, Medians>>;
  /** What scripts/bench-drain.ts printed, when it ran. */
  drain?: { claims: number; output: string } | { claims: number; failed: string };
}

interface Meta {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  workerd: string;
  /** Front processes (0: front and objects in one process). */
  fronts?: number;
  undici: string;
  clkTck: number;
  /** 1-minute load average when the benchmark started (a busy machine skews every figure). */
  loadAvg: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1
    ? (s[(n - 1) / 2] as number)
    : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

// ---------------------------------------------------------------------------------------------
// Machine

function meta(): Meta {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const pkg = (name: string) =>
    (
      JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  let commit = "unknown";
  try {
    const git = (...a: string[]) =>
      execFileSync("git", a, {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    commit = git("rev-parse", "--short", "HEAD");
    const dirty = git(
      "status",
      "--porcelain",
      "--untracked-files=no",
      "--",
      "worker.ts",
      "src",
      "durable-objects",
      "domain",
      "platform",
      "wrangler.toml",
    );
    if (dirty !== "") commit += " + uncommitted changes";
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    commit,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    workerd: RUNTIME === "pre" ? pkg("workerd-1.20261013.1") : pkg("workerd"),
    fronts: FRONTS,
    undici: pkg("undici"),
    clkTck: Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100,
    loadAvg: loadavg()[0] ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

const SECRET = `bench-jwt-${crypto.randomUUID()}-${crypto.randomUUID()}`;
const ADMIN = `bench-admin-${crypto.randomUUID()}`;
const RUN_ID = Date.now().toString(36);

interface Stack {
  worker: RunningWorker;
  bareUrl: string;
  /** mariadbd, redis-server and this process (the gateway and the load thread). */
  stackPids: number[];
  stop(): Promise<void>;
}

let stack: Stack | undefined;
let load: LoadThread | undefined;
let tempDir: string | undefined;
let cleaning: Promise<void> | undefined;
/** bench-drain's process group while it runs. */
let drainPid: number | undefined;

function killDrain(sig: NodeJS.Signals): void {
  if (drainPid === undefined) return;
  try {
    process.kill(-drainPid, sig);
  } catch {
    // already gone
  }
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killDrain("SIGTERM");
    await load?.terminate().catch(() => undefined);
    await stack?.stop().catch((err: unknown) => console.error("stopping the stack:", err));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    load = undefined;
    stack = undefined;
    tempDir = undefined;
  })();
  return cleaning;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the stack…`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function startStack(dir: string): Promise<Stack> {
  const t0 = performance.now();
  const [cloud, bundle] = await Promise.all([
    startLocalCloud({ root: join(dir, "cloud") }),
    bundleWorker(join(dir, "build")),
  ]);
  let worker: RunningWorker;
  try {
    worker = await startWorker({
      dir: join(dir, "worker"),
      bundle,
      host: HOST,
      port: await freePort(HOST),
      bareWorkerPort: await freePort(HOST),
      runtime: RUNTIME,
      fronts: FRONTS,
      // Random secrets for this run; every other binding exactly as `npm start` passes it.
      bindings: { JWT_SECRET: SECRET, ADMIN_TOKEN: ADMIN, ...workerBindings(cloud) },
    });
  } catch (err) {
    await cloud.stop();
    throw err;
  }
  log(
    `stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${worker.url} (workerd pid ${worker.pid}), bare ${worker.bareUrl}`,
  );
  return {
    worker,
    bareUrl: worker.bareUrl as string,
    stackPids: [process.pid, cloud.processes.mariadbd.pid, cloud.processes.redis.pid],
    stop: async () => {
      await worker.stop();
      await cloud.stop();
    },
  };
}

class LoadThread {
  private readonly worker: Worker;
  private pending: { resolve(r: LoadReply): void; reject(e: Error): void } | undefined;
  private dead: Error | undefined;

  constructor(init: LoadInit) {
    this.worker = new Worker(new URL("./bench-load.ts", import.meta.url), { workerData: init });
    this.worker.on("message", (r: LoadReply) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(r);
    });
    const fail = (err: Error) => {
      this.dead = err;
      this.pending?.reject(err);
      this.pending = undefined;
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`load thread exited (${code})`)));
  }

  /** Sends one request; rejects after `timeoutMs` (the caller then replaces this thread). */
  call(req: LoadRequest, timeoutMs: number): Promise<LoadReply> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error("load thread busy"));
    return new Promise<LoadReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(
          new Error(`no answer from the load thread within ${Math.round(timeoutMs / 1000)} s`),
        );
      }, timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.worker.postMessage(req);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

function newLoadThread(s: Stack): LoadThread {
  return new LoadThread({
    secret: SECRET,
    userPrefix: `bench-${RUN_ID}-${++loadThreads}`,
    objectsPid: s.worker.pid,
    frontPids: s.worker.frontPids,
    stackPids: s.stackPids,
  });
}
let loadThreads = 0;

async function mint(count: number): Promise<void> {
  const r = await (load as LoadThread).call({ type: "mint", count }, 300_000);
  if (r.type === "failed") throw new Error(`minting tokens: ${r.error}`);
}

async function runLoad(req: LoadRequest, timeoutMs: number): Promise<LoadSummary> {
  try {
    const r = await (load as LoadThread).call(req, timeoutMs);
    if (r.type === "failed") throw new Error(r.error);
    if (r.type !== "summary") throw new Error(`unexpected answer ${r.type}`);
    return r.summary;
  } catch (err) {
    // A stuck or crashed load thread is replaced, so the next scenario starts clean.
    await load?.terminate().catch(() => undefined);
    load = newLoadThread(stack as Stack);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the service (main thread, outside the timed part)

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${(stack as Stack).worker.url}${path}`, {
    ...init,
    signal: AbortSignal.timeout(30_000),
  });
}

const adminHeaders = { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" };
let eventCounter = 0;

async function createEvent(label: string, totalStock: number): Promise<string> {
  const id = `bench-${RUN_ID}-${label}-${++eventCounter}`;
  const res = await api("/v1/events", {
    method: "POST",
    headers: adminHeaders,
    body: JSON.stringify({
      id,
      name: id,
      totalStock,
      startsAt: new Date(Date.now() - 1000).toISOString(),
    }),
  });
  if (res.status !== 201) throw new Error(`create event ${id}: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
  return id;
}

async function readEvent(id: string): Promise<{ state: string; issued: number }> {
  const res = await api(`/v1/events/${id}`);
  if (res.status !== 200) throw new Error(`GET event ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { state: string; issued: number };
}

async function soldOutEvent(label: string): Promise<string> {
  const id = await createEvent(label, 1);
  const token = await sign(
    { sub: `bench-${RUN_ID}-setup-${id}`, exp: Math.floor(Date.now() / 1000) + 3600 },
    SECRET,
    "HS256",
  );
  const res = await api(`/v1/events/${id}/claims`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  if (res.status !== 201)
    throw new Error(`claim the last coupon of ${id}: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
  return id;
}

/** Waits (at most 60 s) until the event's outbox is empty: the sinks have every claim. */
async function untilDrained(id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await api(`/v1/events/${id}/stats`, { headers: adminHeaders });
    const stats = (await res.json()) as { outbox?: { pending?: number } };
    const pending = stats.outbox?.pending ?? 0;
    if (pending === 0) return;
    if (Date.now() > deadline) {
      log(`  (outbox of ${id} still holds ${pending} rows after 60 s; going on)`);
      return;
    }
    await sleep(100);
  }
}

/**
 * Waits until workerd is idle (under 4% of a core) and nothing else is busy (other processes
 * under 10% of a core) over half a second, at most `--patience` seconds; then measures anyway.
 */
async function untilQuiet(s: Stack, clkTck: number): Promise<void> {
  const deadline = Date.now() + CONFIG.patienceMs;
  const windowMs = 500;
  const tick = (share: number) => (clkTck * windowMs * share) / 1000;
  const stackTicks = () =>
    s.stackPids.reduce((sum, pid) => {
      try {
        return sum + cpuTicks(pid);
      } catch {
        return sum;
      }
    }, 0);
  for (;;) {
    const workerdTicks = () =>
      [s.worker.pid, ...s.worker.frontPids].reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const w0 = workerdTicks();
    const s0 = stackTicks();
    const m0 = machineTicks();
    await sleep(windowMs);
    const workerd = workerdTicks() - w0;
    const others = machineTicks() - m0 - workerd - (stackTicks() - s0);
    if (workerd <= tick(0.04) && others <= tick(0.1)) return;
    if (Date.now() > deadline) {
      log(
        `  (not quiet after ${CONFIG.patienceMs / 1000} s: workerd ${Math.round((100 * workerd) / tick(1))}%, other processes ${Math.round((100 * others) / tick(1))}% of a core; measuring anyway)`,
      );
      return;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = performance.now();
const log = (msg: string) =>
  console.error(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${msg}`);

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Prepared {
  req: BurstRequest | TimedRequest;
  /** Statuses that are not errors ("201", "409 sold-out", ...). */
  expected: string[];
  /** The claim event, to read back `issued` and wait for its outbox. */
  eventId?: string;
}

const claimPath = (id: string) => `/v1/events/${id}/claims`;

async function prepare(name: ScenarioName, warmup: boolean): Promise<Prepared> {
  const s = stack as Stack;
  const origin = s.worker.url;
  const timed = (
    path: string,
    method: "GET" | "POST",
    auth: "fresh-user" | "none",
    maxRequests: number,
    target = origin,
  ): TimedRequest => ({
    type: "timed",
    origin: target,
    path,
    method,
    auth,
    connections: CONFIG.connections,
    durationMs: warmup ? CONFIG.warmupMs : CONFIG.durationMs,
    maxRequests: warmup ? Math.min(maxRequests, 20_000) : maxRequests,
    timeoutMs: CONFIG.requestTimeoutMs,
  });
  switch (name) {
    case "burst":
    case "burst-10x": {
      const shape = name === "burst" ? CONFIG.burst : CONFIG.burst10x;
      const users = warmup ? Math.min(shape.users, 500) : shape.users;
      const stock = warmup ? Math.ceil(users / 5) : shape.stock;
      await mint(users);
      const eventId = await createEvent(name, stock);
      return {
        eventId,
        expected: ["201", "409 sold-out"],
        req: {
          type: "burst",
          origin,
          path: claimPath(eventId),
          users,
          connections: Math.min(CONFIG.burstConnections, users),
          timeoutMs: CONFIG.burstTimeoutMs,
        },
      };
    }
    case "saturate": {
      const req = timed("", "POST", "fresh-user", CONFIG.saturateMax);
      await mint(req.maxRequests);
      const eventId = await createEvent(name, CONFIG.saturateStock);
      return { eventId, expected: ["201"], req: { ...req, path: claimPath(eventId) } };
    }
    case "sold-out": {
      const req = timed("", "POST", "fresh-user", CONFIG.soldOutMax);
      await mint(req.maxRequests);
      const eventId = await soldOutEvent(name);
      return { eventId, expected: ["409 sold-out"], req: { ...req, path: claimPath(eventId) } };
    }
    case "get-event": {
      const eventId = await createEvent(name, 1_000);
      return {
        expected: ["200"],
        req: timed(`/v1/events/${eventId}`, "GET", "none", CONFIG.plainMax),
      };
    }
    case "touch-nothing":
      return {
        expected: ["200"],
        req: timed("/problems/sold-out", "GET", "none", CONFIG.plainMax),
      };
    case "bare":
      return { expected: ["200"], req: timed("/", "GET", "none", CONFIG.plainMax, s.bareUrl) };
  }
}

async function runOnce(name: ScenarioName, warmup: boolean, m: Meta): Promise<RunResult> {
  const prepared = await prepare(name, warmup);
  const s = stack as Stack;
  await untilQuiet(s, m.clkTck);
  const req = prepared.req;
  const bound =
    req.type === "burst" ? req.timeoutMs + 60_000 : req.durationMs + req.timeoutMs + 60_000;
  const summary = await runLoad(req, bound);
  const errors =
    summary.requests - prepared.expected.reduce((sum, k) => sum + (summary.statuses[k] ?? 0), 0);
  const result: RunResult = { summary, errors, issued: summary.statuses["201"] ?? 0 };
  if (prepared.eventId !== undefined) {
    if (req.type === "burst") result.issuedServer = (await readEvent(prepared.eventId)).issued;
    await untilDrained(prepared.eventId);
  }
  return result;
}

function mediansOf(runs: RunResult[], clkTck: number, expected: string[]): Medians {
  const pick = (f: (r: RunResult) => number) => median(runs.map(f));
  const keys = new Set(runs.flatMap((r) => Object.keys(r.summary.statuses)));
  const statuses: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  for (const k of [...keys].sort()) {
    statuses[k] = pick((r) => r.summary.statuses[k] ?? 0);
    if (!expected.includes(k)) {
      unexpected[k] = runs.reduce((sum, r) => sum + (r.summary.statuses[k] ?? 0), 0);
    }
  }
  return {
    runs: runs.length,
    requests: pick((r) => r.summary.requests),
    reqPerSec: pick((r) => r.summary.requests / (r.summary.elapsedMs / 1000)),
    p50: pick((r) => r.summary.p50),
    p95: pick((r) => r.summary.p95),
    p99: pick((r) => r.summary.p99),
    max: pick((r) => r.summary.max),
    fromInstant: runs.every((r) => r.summary.fromInstant)
      ? {
          p50: pick((r) => r.summary.fromInstant?.p50 ?? 0),
          p99: pick((r) => r.summary.fromInstant?.p99 ?? 0),
          max: pick((r) => r.summary.fromInstant?.max ?? 0),
        }
      : undefined,
    workerdUsPerReq: pick(
      (r) => (r.summary.workerdTicks * 1e6) / clkTck / Math.max(1, r.summary.requests),
    ),
    frontUsPerReq: pick(
      (r) => (r.summary.frontTicks * 1e6) / clkTck / Math.max(1, r.summary.requests),
    ),
    objectsUsPerReq: pick(
      (r) => (r.summary.objectsTicks * 1e6) / clkTck / Math.max(1, r.summary.requests),
    ),
    objectsUsPerIssued: runs.every((r) => r.issued > 0)
      ? pick((r) => (r.summary.objectsTicks * 1e6) / clkTck / r.issued)
      : null,
    loadCpuPct: pick((r) => (100 * r.summary.loadCpuUs) / 1000 / r.summary.elapsedMs),
    otherCpuPct: pick((r) => (100 * r.summary.otherTicks * 1000) / clkTck / r.summary.elapsedMs),
    statuses,
    errorsPerRun: runs.map((r) => r.errors),
    issuedPerRun: runs.map((r) => r.issuedServer ?? r.issued),
    unexpected,
  };
}

const EXPECTED: Record<ScenarioName, string[]> = {
  burst: ["201", "409 sold-out"],
  "burst-10x": ["201", "409 sold-out"],
  saturate: ["201"],
  "sold-out": ["409 sold-out"],
  "get-event": ["200"],
  "touch-nothing": ["200"],
  bare: ["200"],
};

// ---------------------------------------------------------------------------------------------
// Report

const DESCRIPTION: Record<ScenarioName, (c: typeof CONFIG) => string> = {
  burst: (c) =>
    `${fmtInt(c.burst.users)} users claim at one instant (${fmtInt(Math.min(c.burstConnections, c.burst.users))} connections), ${fmtInt(c.burst.stock)} coupons`,
  "burst-10x": (c) =>
    `${fmtInt(c.burst10x.users)} users claim at one instant (${fmtInt(Math.min(c.burstConnections, c.burst10x.users))} connections), ${fmtInt(c.burst10x.stock)} coupons`,
  saturate: (c) => `claims, ${c.connections} connections, a fresh user each, huge stock`,
  "sold-out": (c) => `claims on a sold-out event, ${c.connections} connections, fresh users`,
  "get-event": (c) => `GET /v1/events/{id}, ${c.connections} connections`,
  "touch-nothing": (c) => `GET /problems/sold-out, ${c.connections} connections`,
  bare: (c) => `one-line Worker, same workerd, ${c.connections} connections`,
};

const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) =>
  n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 1 : 0)} ms`;

function fmtStatuses(st: Record<string, number>): string {
  return Object.entries(st)
    .map(([k, v]) => `${k}: ${fmtInt(v)}`)
    .join(", ");
}

/** Per-process CPU; older result files (one process, no split figures) show a dash. */
function fmtPerProcess(r: Medians): { front: string; objects: string } {
  if (r.frontUsPerReq === undefined || r.objectsUsPerReq === undefined) {
    return { front: "—", objects: "—" };
  }
  const issued =
    r.objectsUsPerIssued === null || r.objectsUsPerIssued === undefined
      ? ""
      : ` · ${fmtInt(r.objectsUsPerIssued)}`;
  return {
    front: r.frontUsPerReq === 0 ? "(one process)" : fmtInt(r.frontUsPerReq),
    objects: `${fmtInt(r.objectsUsPerReq)}${issued}`,
  };
}

/** A warning when other processes competed for the cores during some scenario. */
function disturbed(file: BenchFile): string {
  const busy = SCENARIOS.filter((n) => (file.results[n]?.otherCpuPct ?? 0) > 20);
  if (busy.length === 0) return "";
  const list = busy.map((n) => `${n} ${Math.round(file.results[n]?.otherCpuPct ?? 0)}%`).join(", ");
  return `\n\n**Disturbed:** other processes used a large share of a core during ${list} (median of runs); those figures understate the service: rerun on a quiet machine.`;
}

function resultsTable(file: BenchFile): string {
  const results = file.results;
  const rows = [
    "| scenario | load | req/s | p50 | p95 | p99 | max | from the instant: p50 / p99 / max | answers (median of runs) | errors per run | workerd CPU µs/req | front µs/req | objects µs/req · per issued | load thread CPU | other CPU |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of SCENARIOS) {
    const r = results[name];
    if (!r) continue;
    if (r.failed) {
      rows.push(
        `| ${name} | ${DESCRIPTION[name](file.config)} | failed: ${r.failed.split("\n")[0]} | | | | | | | | | | | | |`,
      );
      continue;
    }
    const fi = r.fromInstant
      ? `${fmtMs(r.fromInstant.p50)} / ${fmtMs(r.fromInstant.p99)} / ${fmtMs(r.fromInstant.max)}`
      : "—";
    const unexpected = Object.keys(r.unexpected).length
      ? ` (not expected, all runs: ${fmtStatuses(r.unexpected)})`
      : "";
    rows.push(
      `| ${name} | ${DESCRIPTION[name](file.config)} | ${fmtInt(r.reqPerSec)} | ${fmtMs(r.p50)} | ${fmtMs(r.p95)} | ${fmtMs(r.p99)} | ${fmtMs(r.max)} | ${fi} | ${fmtStatuses(r.statuses)} | ${r.errorsPerRun.join(" / ")}${unexpected} | ${fmtInt(r.workerdUsPerReq)} | ${fmtPerProcess(r).front} | ${fmtPerProcess(r).objects} | ${r.loadCpuPct.toFixed(0)}% | ${(r.otherCpuPct ?? 0).toFixed(0)}% |`,
    );
  }
  return rows.join("\n");
}

interface Target {
  label: string;
  /** The figure shown, and whether it meets the target; undefined when not measured. */
  /** `before`: the results the relative targets compare with, when there are any. */
  check(
    results: BenchFile["results"],
    config: typeof CONFIG,
    before?: BenchFile["results"],
  ): { shown: string; pass?: boolean } | undefined;
}

const ok = (r: Medians | undefined): r is Medians => r !== undefined && r.failed === undefined;
const clean = (r: Medians) => r.errorsPerRun.every((n) => n === 0);
const errorsNote = (r: Medians) =>
  clean(r) ? "" : `, with errors (${r.errorsPerRun.join(" / ")} per run)`;

function ratio(
  results: BenchFile["results"],
  a: ScenarioName,
  b: ScenarioName,
  min: number,
): { shown: string; pass: boolean } | undefined {
  const ra = results[a];
  const rb = results[b];
  if (!ok(ra) || !ok(rb)) return undefined;
  const x = ra.reqPerSec / rb.reqPerSec;
  return {
    shown: `${x.toFixed(2)}x (${fmtInt(ra.reqPerSec)} / ${fmtInt(rb.reqPerSec)})${errorsNote(ra)}${errorsNote(rb)}`,
    pass: x >= min && clean(ra) && clean(rb),
  };
}

function exact(
  r: Medians | undefined,
  stock: number,
): { shown: string; pass: boolean } | undefined {
  if (!ok(r)) return undefined;
  const pass = r.issuedPerRun.every((n) => n === stock) && r.errorsPerRun.every((n) => n === 0);
  return {
    shown: `issued ${r.issuedPerRun.map(fmtInt).join(" / ")}, errors ${r.errorsPerRun.join(" / ")}`,
    pass,
  };
}

const latency = (r: Medians | undefined, f: "p95" | "p99" | "max", maxMs: number) => {
  if (!ok(r)) return undefined;
  const instant =
    r.fromInstant && f !== "p95" ? ` (from the instant ${fmtMs(r.fromInstant[f])})` : "";
  return { shown: `${fmtMs(r[f])}${instant}${errorsNote(r)}`, pass: r[f] <= maxMs && clean(r) };
};

/** A figure as a share of before's (`max`: the most it may be), shown with both. */
function relative(
  now: Medians | undefined,
  before: Medians | undefined,
  pick: (m: Medians) => number,
  fmt: (n: number) => string,
  bound: { atMost?: number; atLeast?: number },
): { shown: string; pass?: boolean } | undefined {
  if (!ok(now)) return undefined;
  const figure = `${fmt(pick(now))}${errorsNote(now)}`;
  if (!ok(before)) return { shown: figure };
  const x = pick(now) / pick(before);
  const pass =
    clean(now) &&
    (bound.atMost === undefined || x <= bound.atMost) &&
    (bound.atLeast === undefined || x >= bound.atLeast);
  return { shown: `${figure} = ${x.toFixed(2)}x before (${fmt(pick(before))})`, pass };
}

/** Issue 20's targets: latency and throughput relative to before, CPU per process, ratios. */
const TARGETS: Target[] = [
  {
    label: "burst: exactly {burst.stock} issued, 0 errors",
    check: (r, c) => exact(r.burst, c.burst.stock),
  },
  {
    label: "burst: p95 ≤ 0.25x before",
    check: (r, _c, b) => relative(r.burst, b?.burst, (m) => m.p95, fmtMs, { atMost: 0.25 }),
  },
  {
    label: "burst: p99 ≤ 0.25x before",
    check: (r, _c, b) => relative(r.burst, b?.burst, (m) => m.p99, fmtMs, { atMost: 0.25 }),
  },
  {
    label: "burst-10x: exactly {burst10x.stock} issued, 0 errors",
    check: (r, c) => exact(r["burst-10x"], c.burst10x.stock),
  },
  {
    label: "burst-10x: p99 ≤ 0.3x before",
    check: (r, _c, b) =>
      relative(r["burst-10x"], b?.["burst-10x"], (m) => m.p99, fmtMs, { atMost: 0.3 }),
  },
  { label: "burst-10x: max ≤ 1 s", check: (r) => latency(r["burst-10x"], "max", 1000) },
  {
    label: "saturate: ≥ 3x before's claims/s",
    check: (r, _c, b) =>
      relative(
        r.saturate,
        b?.saturate,
        (m) => m.reqPerSec,
        (n) => `${fmtInt(n)}/s`,
        {
          atLeast: 3,
        },
      ),
  },
  {
    label: "saturate: objects ≤ 150 µs per issued claim",
    check: (r) =>
      ok(r.saturate) && typeof r.saturate.objectsUsPerIssued === "number"
        ? {
            shown: `${fmtInt(r.saturate.objectsUsPerIssued)} µs${errorsNote(r.saturate)}`,
            pass: r.saturate.objectsUsPerIssued <= 150 && clean(r.saturate),
          }
        : undefined,
  },
  {
    label: "saturate: fronts ≤ 250 µs per claim request",
    check: (r) =>
      ok(r.saturate) && r.saturate.frontUsPerReq
        ? {
            shown: `${fmtInt(r.saturate.frontUsPerReq)} µs${errorsNote(r.saturate)}`,
            pass: r.saturate.frontUsPerReq <= 250 && clean(r.saturate),
          }
        : undefined,
  },
  {
    label: "sold-out claims ≥ 0.8x touch-nothing",
    check: (r) => ratio(r, "sold-out", "touch-nothing", 0.8),
  },
  {
    label: "GET event ≥ 0.9x touch-nothing",
    check: (r) => ratio(r, "get-event", "touch-nothing", 0.9),
  },
  {
    label: "touch-nothing ≥ 0.7x bare Worker",
    check: (r) => ratio(r, "touch-nothing", "bare", 0.7),
  },
];

function targetLabel(t: Target, config: typeof CONFIG): string {
  return t.label
    .replace("{burst.stock}", fmtInt(config.burst.stock))
    .replace("{burst10x.stock}", fmtInt(config.burst10x.stock));
}

function targetsTable(now: BenchFile, before: BenchFile | undefined): string {
  const head = before
    ? [`| target | before (${before.meta.commit}) | | now | |`, "| --- | --- | --- | --- | --- |"]
    : ["| target | now | |", "| --- | --- | --- |"];
  const mark = (c: { pass?: boolean } | undefined) =>
    c?.pass === undefined ? "" : c.pass ? "pass" : "**miss**";
  const rows = TARGETS.map((t) => {
    const n = t.check(now.results, now.config, before?.results);
    const cells = [targetLabel(t, now.config)];
    if (before) {
      const b = t.check(before.results, before.config);
      cells.push(b?.shown ?? "—", mark(b));
    }
    cells.push(n?.shown ?? "not run", mark(n));
    return `| ${cells.join(" | ")} |`;
  });
  return [...head, ...rows].join("\n");
}

function beforeTable(before: BenchFile, now: BenchFile): string {
  const rows = [
    `| scenario | req/s before → now | p50 | p95 | p99 | max | workerd CPU µs/req |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of SCENARIOS) {
    const b = before.results[name];
    const n = now.results[name];
    if (!ok(b) || !ok(n)) continue;
    const pair = (f: (m: Medians) => string) => `${f(b)} → ${f(n)}`;
    rows.push(
      `| ${name} | ${pair((m) => fmtInt(m.reqPerSec))} | ${pair((m) => fmtMs(m.p50))} | ${pair((m) => fmtMs(m.p95))} | ${pair((m) => fmtMs(m.p99))} | ${pair((m) => fmtMs(m.max))} | ${pair((m) => fmtInt(m.workerdUsPerReq))} |`,
    );
  }
  return rows.join("\n");
}

/** JSON.stringify replacer: figures to 0.01, enough for any column of the report. */
const rounded = (_key: string, value: unknown) =>
  typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 100) / 100 : value;

const BEFORE_MARK = /<!-- bench-before (\{.*\}) -->/;

function loadBefore(): BenchFile | undefined {
  if (args.before !== undefined) return JSON.parse(readFileSync(args.before, "utf8")) as BenchFile;
  const existing = outFile ?? join(ROOT, "BENCHMARKS.md");
  if (!existsSync(existing)) return undefined;
  const m = BEFORE_MARK.exec(readFileSync(existing, "utf8"));
  return m?.[1] ? (JSON.parse(m[1]) as BenchFile) : undefined;
}

/** The Drain section of the file about to be overwritten, when it holds figures. */
function previousDrain(path: string | undefined): string | undefined {
  const body = sectionOf(path, "Drain");
  return body?.includes("```") ? body : undefined;
}

/** `npm run soak` writes its section itself; a bench run keeps it. */
function soakSection(path: string | undefined): string {
  return (
    sectionOf(path, "Soak") ??
    "`npm run soak` (scripts/soak.ts) measures each isolate's JS heap under a crowd of distinct users and writes its figures here."
  );
}

function drainSection(file: BenchFile, previous: string | undefined): string {
  const d = file.drain;
  const what =
    "`npm run bench:drain` (scripts/bench-drain.ts) measures how fast the outbox reaches MySQL and Kafka, live and after an outage of both sinks";
  if (!d) return previous ?? `${what}; \`npm run bench -- --drain\` runs it too.`;
  if ("failed" in d) return `${what}. It failed this time:\n\n\`\`\`\n${d.failed}\n\`\`\``;
  return `${what}. Run by \`${command()}\` on ${file.meta.date.slice(0, 10)} at ${file.meta.commit}, after the scenarios (its own stack, ${fmtInt(d.claims)} claims, one run):\n\n\`\`\`\n${d.output}\n\`\`\``;
}

function command(): string {
  const extra = process.argv.slice(2).join(" ");
  return extra ? `npm run bench -- ${extra}` : "npm run bench";
}

function layoutOf(m: Meta): string {
  if (m.fronts === undefined || m.fronts === 0) {
    return "one workerd process (front and objects as two services)";
  }
  const plural = m.fronts === 1 ? "" : "es";
  return `FRONTS=${m.fronts}: ${m.fronts} front process${plural} sharing the port, the objects in a process of their own`;
}

function report(now: BenchFile, before: BenchFile | undefined, seconds: number): string {
  const m = now.meta;
  const c = now.config;
  const parts = [
    `# Benchmarks

Generated by \`${command()}\` (scripts/bench.ts) in ${Math.round(seconds)} s. Every figure is the
median of ${c.runs} run${c.runs === 1 ? "" : "s"}, each on a fresh event; the service code changes, so rerun it rather than trusting old
figures, and compare ratios measured in one run rather than absolute figures across machines.

| | |
| --- | --- |
| date | ${m.date} |
| commit | ${m.commit} |
| machine | ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; load average ${m.loadAvg.toFixed(2)} at the start |
| Node | ${m.node} (load generator and local gateway), undici ${m.undici} |
| workerd | ${m.workerd} (\`workerd serve\`) |
| layout | ${layoutOf(m)} |

## Results

${resultsTable(now)}${disturbed(now)}

## Targets

${targetsTable(now, before)}`,
  ];
  if (before) {
    parts.push(`## Before and now

"Before" is commit ${before.meta.commit}, measured by this same script on ${before.meta.date.slice(0, 10)}
(${before.meta.cpu}, ${before.meta.cores} cores, workerd ${before.meta.workerd}, median of ${before.config.runs} run${before.config.runs === 1 ? "" : "s"}).

${beforeTable(before, now)}

Before, all scenarios:

${resultsTable(before)}${disturbed(before)}

<!-- bench-before ${JSON.stringify(before, rounded)} -->`);
  }
  parts.push(`## Method

- The stack is the one \`npm start\` runs: the local cloud (MariaDB, Redis and the HTTP gateway
  standing in for PlanetScale, Upstash Redis and Kafka) and \`workerd serve\` with the bundle: by
  default the objects in one process and \`FRONTS\` front processes sharing the port (README, "How
  it runs"; \`--fronts 0\` serves front and objects as two services of one process), with every
  binding \`npm start\` passes
  (\`local/worker-bindings.ts\`: sinks on, the outbox drain on, the local per-address rate budget)
  except \`JWT_SECRET\`/\`ADMIN_TOKEN\`, which are random per run. The front process(es) also
  serve a bare Worker (\`export default { fetch() { return new Response('ok') } }\`) on a socket of
  its own (\`startWorker({ bareWorkerPort })\`): the ceiling.
- Load: undici ${m.undici} \`Pool\`s in a Node worker thread of their own (the gateway runs in the main
  thread), to 127.0.0.1 only, HTTP/1.1 keep-alive, no pipelining. Connections are opened (one
  \`GET /problems/sold-out\` each) before the timed part. User tokens are minted with \`sign\` from
  \`hono/jwt\` (HS256) before the timed part; every claim comes from a user never seen before.
- Bursts: all ${fmtInt(c.burst.users)} (or ${fmtInt(c.burst10x.users)}) claims are handed to one undici pool of
  ${fmtInt(c.burstConnections)} connections, opened beforehand, in one synchronous loop: ${fmtInt(c.burstConnections)} users are in flight at once and the
  rest wait for a free connection, in order (one process cannot hold 25,000 sockets here:
  \`ulimit -n\` is 20,000; \`--burst-connections\` changes it). Two latencies per user: p50/p95/p99/max
  run from the moment its request is written to a connection to the end of its answer (what the
  service takes with ${fmtInt(c.burstConnections)} users in flight; the targets are checked on these), and "from the
  instant" from the common start, including the wait for a connection (what the last user in the
  crowd waits: at best users / throughput). A burst passes only if every run issues exactly the
  stock (201 count, and the event's \`issued\` read back) with no other answer than 201 and 409
  \`sold-out\`.
- Timed scenarios: ${c.connections} closed loops (one per connection) for ${c.durationMs / 1000} s, or until the tokens
  minted for the run are used up (saturate ${fmtInt(c.saturateMax)}, sold-out ${fmtInt(c.soldOutMax)}); a 1 s warm-up of the
  same shape precedes the first run of every scenario.
- Errors: any answer other than the scenario's expected ones (201 and 409 \`sold-out\` in a burst,
  201 when saturating, 409 \`sold-out\` on the sold-out event, 200 elsewhere), and any transport
  error or timeout (${c.requestTimeoutMs / 1000} s per request).
- workerd CPU: utime + stime of every workerd process (all threads) from \`/proc/<pid>/stat\` at
  the start and end of the load, over the requests made (CLK_TCK ${m.clkTck}: ${Math.round(1000 / m.clkTck)} ms resolution); "front"
  is the front processes' share per request, "objects" the objects' process's per request and per
  issued claim (201). Drain work that happens during the load is included (it runs in the
  objects' process); the script waits for each event's outbox to empty and for workerd to go
  idle before the next run.
- "load thread CPU" is the load generator's own thread, as a share of one core: near 100% means
  the figure is the client's limit, not the service's (the machine has ${m.cores} cores for both).
  "other CPU" is the machine's busy time (\`/proc/stat\`) minus workerd, mariadbd, redis-server and
  the benchmark's own process, as a share of one core: kernel time not charged to a process, and
  anything else running on the machine. Well above a few percent, the run was disturbed: rerun it
  on a quiet machine.

## Drain

${drainSection(now, previousDrain(outFile))}

## Soak

${soakSection(outFile)}
`);
  return `${parts.join("\n\n")}\n`;
}

/**
 * Runs scripts/bench-drain.ts in a process group of its own (its stack included), at most
 * 5 minutes, and returns what it printed.
 */
function runDrain(claims: number): Promise<NonNullable<BenchFile["drain"]>> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", "bench-drain.ts")], {
      cwd: ROOT,
      env: { ...process.env, BENCH_CLAIMS: String(claims) },
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    drainPid = child.pid;
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => {
      log("drain: no result within 5 minutes; stopping it");
      killDrain("SIGTERM");
      setTimeout(() => killDrain("SIGKILL"), 10_000).unref();
    }, 300_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      drainPid = undefined;
      done(
        code === 0
          ? { claims, output: out.trim() }
          : { claims, failed: `bench-drain exited ${signal ?? code}\n${out.trim()}` },
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const m = meta();
  log(
    `bench: ${selected.join(", ")}; ${CONFIG.runs} run(s) each; ${m.cpu}, ${m.cores} cores; workerd ${m.workerd}, FRONTS=${m.fronts}; ${m.commit}`,
  );
  const results: BenchFile["results"] = {};
  let failures = 0;
  if (selected.length > 0) {
    tempDir = mkdtempSync(join(tmpdir(), "coupon-bench-"));
    stack = await startStack(tempDir);
    load = newLoadThread(stack);
  }
  for (const name of selected) {
    const runs: RunResult[] = [];
    try {
      log(`${name}: warm-up`);
      await runOnce(name, true, m);
      for (let i = 1; i <= CONFIG.runs; i++) {
        const r = await runOnce(name, false, m);
        runs.push(r);
        const s = r.summary;
        log(
          `${name} run ${i}: ${fmtInt(s.requests / (s.elapsedMs / 1000))} req/s, p50 ${fmtMs(s.p50)} p95 ${fmtMs(s.p95)} p99 ${fmtMs(s.p99)} max ${fmtMs(s.max)}, ${fmtStatuses(s.statuses)}, workerd ${fmtInt((s.workerdTicks * 1e6) / m.clkTck / Math.max(1, s.requests))} µs/req (front ${fmtInt((s.frontTicks * 1e6) / m.clkTck / Math.max(1, s.requests))}, objects ${fmtInt((s.objectsTicks * 1e6) / m.clkTck / Math.max(1, s.requests))})${r.issuedServer !== undefined ? `, event issued ${r.issuedServer}` : ""}`,
        );
      }
      results[name] = mediansOf(runs, m.clkTck, EXPECTED[name]);
    } catch (err) {
      failures++;
      const message = err instanceof Error ? err.message : String(err);
      log(`${name}: FAILED: ${message}`);
      results[name] = {
        ...(runs.length ? mediansOf(runs, m.clkTck, EXPECTED[name]) : emptyMedians()),
        failed: message,
      };
    }
  }
  await cleanup();
  cleaning = undefined;

  let drain: BenchFile["drain"];
  if (withDrain) {
    const claims = quick ? 2_000 : 10_000;
    log(`drain: scripts/bench-drain.ts with ${fmtInt(claims)} claims (its own stack)`);
    drain = await runDrain(claims);
    if ("failed" in drain) {
      failures++;
      log(`drain: FAILED: ${drain.failed}`);
    }
  }

  const now: BenchFile = { meta: m, config: CONFIG, results, drain };
  const before = loadBefore();
  const text = report(now, before, (performance.now() - started) / 1000);
  console.log(text);
  if (outFile) {
    writeFileSync(outFile, text);
    log(`written to ${outFile}`);
  }
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(now, rounded, 2)}\n`);
    log(`medians written to ${args.json}`);
  }
  if (failures > 0) {
    log(`${failures} scenario(s) failed`);
    process.exitCode = 1;
  }
}

function emptyMedians(): Medians {
  return {
    runs: 0,
    requests: 0,
    reqPerSec: 0,
    p50: 0,
    p95: 0,
    p99: 0,
    max: 0,
    workerdUsPerReq: 0,
    frontUsPerReq: 0,
    objectsUsPerReq: 0,
    objectsUsPerIssued: null,
    loadCpuPct: 0,
    otherCpuPct: 0,
    statuses: {},
    errorsPerRun: [],
    issuedPerRun: [],
    unexpected: {},
  };
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  await cleanup();
  process.exit(1);
});
