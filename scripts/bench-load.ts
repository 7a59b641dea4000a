/**
 * The load generator of `npm run bench` (scripts/bench.ts), run in a worker thread of its own so
 * that the local gateway (which lives in the main thread and serves the Worker's sinks) never
 * shares an event loop with the clients being timed. It keeps a pool of pre-minted user tokens
 * (HS256, `sign` from hono/jwt) and runs one load at a time through the load test's HTTP
 * (loadtest/http.ts: undici pools, request timing, percentiles), answering the main thread with a
 * summary. Loopback only: every URL it is given is 127.0.0.1.
 */
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { sign } from "hono/jwt";
import type { Pool } from "undici";
import { newPool, percentiles, preconnect, send as sendHttp } from "../loadtest/http.ts";

export interface LoadInit {
  secret: string;
  /** Prefix of every user id this benchmark run mints, so users never repeat across runs. */
  userPrefix: string;
  /**
   * The objects' workerd (with FRONTS=0 the only one) and the front processes: their CPU time is
   * read from /proc right at the start and end of each load, per role.
   */
  objectsPid: number;
  frontPids: number[];
  /** The stack's other processes (this Node process, mariadbd, redis-server), to tell them from others. */
  stackPids: number[];
}

/** Who sends the request: a fresh user (a token used once, then dropped) or nobody. */
export type Auth = "fresh-user" | "none";

export interface BurstRequest {
  type: "burst";
  origin: string;
  path: string;
  users: number;
  /** Connections of the one pool that carries the whole burst, opened before the instant. */
  connections: number;
  timeoutMs: number;
}

export interface TimedRequest {
  type: "timed";
  origin: string;
  path: string;
  method: "GET" | "POST";
  auth: Auth;
  connections: number;
  durationMs: number;
  /** Stops early after this many requests (the tokens minted for it). */
  maxRequests: number;
  timeoutMs: number;
}

export type LoadRequest =
  /** Makes sure at least `count` unused tokens are ready (mints the difference). */
  { type: "mint"; count: number } | BurstRequest | TimedRequest;

export interface LoadSummary {
  requests: number;
  elapsedMs: number;
  /**
   * Latency percentiles in milliseconds (nearest rank), each request timed from the moment it was
   * written to its connection to the end of its answer.
   */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Bursts: the same percentiles timed from the common instant every user clicked. */
  fromInstant?: { p50: number; p95: number; p99: number; max: number };
  /** "201", "409 sold-out", "503 unavailable", "error UND_ERR_SOCKET"... → count. */
  statuses: Record<string, number>;
  /** CPU time of this load thread during the load, µs. */
  loadCpuUs: number;
  /** utime + stime of every workerd process during the load, in clock ticks. */
  workerdTicks: number;
  /** The same, of the front processes alone (0 with FRONTS=0) and of the objects' process. */
  frontTicks: number;
  objectsTicks: number;
  /**
   * Busy CPU time of the whole machine (/proc/stat) during the load, minus workerd and the rest
   * of the stack, in clock ticks: other processes competing for the cores (plus kernel time not
   * charged to any process).
   */
  otherTicks: number;
}

export type LoadReply =
  | { type: "minted"; count: number; ms: number }
  | { type: "summary"; summary: LoadSummary }
  | { type: "failed"; error: string };

const init = workerData as LoadInit;
const tokens: string[] = [];
let minted = 0;
let key: CryptoKey | undefined;

async function mint(count: number): Promise<void> {
  key ??= await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(init.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const exp = Math.floor(Date.now() / 1000) + 3 * 3600;
  const signingKey = key;
  for (let done = 0; done < count; ) {
    const batch = Math.min(5_000, count - done);
    const signed = await Promise.all(
      Array.from({ length: batch }, () =>
        sign({ sub: `${init.userPrefix}-${minted++}`, exp }, signingKey, "HS256"),
      ),
    );
    for (const token of signed) tokens.push(token);
    done += batch;
  }
}

function takeToken(): string | undefined {
  return tokens.pop();
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) of the whole process, all threads. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy ticks of all CPUs together (user, nice, system, irq, softirq, steal), from /proc/stat. */
export function machineTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
}

interface CpuMark {
  fronts: number;
  objects: number;
  stack: number;
  machine: number;
  thread: NodeJS.CpuUsage;
}

function cpuMark(): CpuMark {
  const stack = init.stackPids.reduce((sum, pid) => {
    try {
      return sum + cpuTicks(pid);
    } catch {
      return sum;
    }
  }, 0);
  return {
    fronts: init.frontPids.reduce((sum, pid) => sum + cpuTicks(pid), 0),
    objects: cpuTicks(init.objectsPid),
    stack,
    machine: machineTicks(),
    thread: process.threadCpuUsage(),
  };
}

interface Answer {
  /** "201", "409 sold-out", "error UND_ERR_SOCKET"... */
  key: string;
  /** When the request was written to its connection (performance.now()). */
  sentAt: number;
  /** When its answer had fully arrived, or it failed. */
  endAt: number;
}

/** One request through the shared load generator (success bodies dropped unread). */
async function send(
  pool: Pool,
  path: string,
  method: "GET" | "POST",
  headers: Record<string, string>,
): Promise<Answer> {
  const a = await sendHttp(pool, path, method, headers, undefined, "problems");
  const key =
    a.status === 0
      ? `error ${a.error ?? "unknown"}`
      : a.slug
        ? `${a.status} ${a.slug}`
        : String(a.status);
  return { key, sentAt: a.sentAt, endAt: a.endAt };
}

const latencyPercentiles = (values: Float64Array, count: number) => {
  const { p50, p95, p99, max } = percentiles(values.subarray(0, count));
  return { p50, p95, p99, max };
};

function summarize(
  latencies: Float64Array,
  count: number,
  elapsedMs: number,
  statuses: Map<string, number>,
  start: CpuMark,
  fromInstant?: Float64Array,
): LoadSummary {
  const end = cpuMark();
  const frontTicks = end.fronts - start.fronts;
  const objectsTicks = end.objects - start.objects;
  const workerdTicks = frontTicks + objectsTicks;
  const otherTicks = end.machine - start.machine - workerdTicks - (end.stack - start.stack);
  const cpu = process.threadCpuUsage(start.thread);
  return {
    requests: count,
    elapsedMs,
    ...latencyPercentiles(latencies, count),
    fromInstant: fromInstant ? latencyPercentiles(fromInstant, count) : undefined,
    statuses: Object.fromEntries(statuses),
    loadCpuUs: cpu.user + cpu.system,
    workerdTicks,
    frontTicks,
    objectsTicks,
    otherTicks,
  };
}

/**
 * Every user sends one claim at the same instant: all `users` requests are handed to one undici
 * pool of `connections` (already open) in a single synchronous loop. Two latencies per user:
 * from the moment its request was written to a connection to its full answer (what the service
 * took, with at most `connections` users in flight), and from the common instant (what the user
 * waited, including the wait for a free connection).
 */
async function burst(req: BurstRequest): Promise<LoadSummary> {
  if (tokens.length < req.users) throw new Error(`burst: ${tokens.length} tokens < ${req.users}`);
  const headers = Array.from({ length: req.users }, () => ({
    authorization: `Bearer ${takeToken() as string}`,
  }));
  const pool = newPool(req.origin, req.connections, req.timeoutMs);
  try {
    await preconnect(pool, req.connections);
    const latencies = new Float64Array(req.users);
    const fromInstant = new Float64Array(req.users);
    const statuses = new Map<string, number>();
    const start = cpuMark();
    const t0 = performance.now();
    const all: Promise<void>[] = [];
    for (let i = 0; i < req.users; i++) {
      all.push(
        send(pool, req.path, "POST", headers[i] as Record<string, string>).then((a) => {
          latencies[i] = a.endAt - a.sentAt;
          fromInstant[i] = a.endAt - t0;
          statuses.set(a.key, (statuses.get(a.key) ?? 0) + 1);
        }),
      );
    }
    await Promise.all(all);
    const elapsed = performance.now() - t0;
    return summarize(latencies, req.users, elapsed, statuses, start, fromInstant);
  } finally {
    await pool.destroy();
  }
}

/** `connections` closed loops, each sending its next request when the last one is answered. */
async function timed(req: TimedRequest): Promise<LoadSummary> {
  const pool = newPool(req.origin, req.connections, req.timeoutMs);
  try {
    await preconnect(pool, req.connections);
    const latencies = new Float64Array(req.maxRequests);
    const statuses = new Map<string, number>();
    let sent = 0;
    let done = 0;
    const start = cpuMark();
    const t0 = performance.now();
    const deadline = t0 + req.durationMs;
    const loop = async () => {
      while (sent < req.maxRequests && performance.now() < deadline) {
        const headers: Record<string, string> = {};
        if (req.auth === "fresh-user") {
          const token = takeToken();
          if (token === undefined) return;
          headers.authorization = `Bearer ${token}`;
        }
        sent++;
        const a = await send(pool, req.path, req.method, headers);
        latencies[done++] = a.endAt - a.sentAt;
        statuses.set(a.key, (statuses.get(a.key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: req.connections }, loop));
    return summarize(latencies, done, performance.now() - t0, statuses, start);
  } finally {
    await pool.destroy();
  }
}

parentPort?.on("message", (msg: LoadRequest) => {
  const reply = (r: LoadReply) => parentPort?.postMessage(r);
  const run = async (): Promise<LoadReply> => {
    if (msg.type === "mint") {
      const t0 = performance.now();
      await mint(Math.max(0, msg.count - tokens.length));
      return { type: "minted", count: tokens.length, ms: performance.now() - t0 };
    }
    const summary = msg.type === "burst" ? await burst(msg) : await timed(msg);
    return { type: "summary", summary };
  };
  run().then(reply, (err: unknown) =>
    reply({
      type: "failed",
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    }),
  );
});
