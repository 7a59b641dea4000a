/**
 * One load-test run: creates the event, sends the crowd on its schedule (an open model: each
 * visitor arrives at its planned time whatever the service is doing), samples the event's stats
 * throughout, applies the scenario's sink faults, and waits for the outbox to drain. Everything
 * it saw comes back as `RunData`; checking and reporting are elsewhere.
 */

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Pool } from "undici";
import { controlFetch } from "../local/gateway/control-client.ts";
import { arriveOnSchedule, notArrived } from "./arrivals.ts";
import {
  type Answer,
  type Kind,
  newPool,
  preconnect,
  type RequestRecord,
  retryAfterSeconds,
  send,
} from "./http.ts";
import { prng } from "./prng.ts";
import { type RoomVisit, room } from "./room.ts";
import type { CrowdPlan, FaultStep, Plan, SaturatePlan } from "./scenarios.ts";
import type { Target, User } from "./target.ts";
import { type CrowdContext, call, couponOf, outcomeOf, sleep } from "./visit.ts";

/** A coupon as the API answers it (the fields the checks read). */
export interface CouponView {
  id: string;
  eventId: string;
  userId: string;
}

/** One sample of `GET /v1/events/{id}/stats`, times in ms from startsAt. */
export interface Sample {
  t: number;
  issued: number;
  released: number;
  remaining: number;
  state: string;
  pending: number;
  mysqlDelivered: number;
  kafkaDelivered: number;
  mysqlState: string;
  kafkaState: string;
}

export interface Marker {
  t: number;
  label: string;
}

export interface VisitorData {
  user: string;
  arriveAt: number;
  /** When the visitor left the page (NaN: never arrived, the run was cut short). */
  leaveAt: number;
  /** Claims sent (retries included). */
  claims: number;
  /** Every coupon id any answer gave this user (claims and read-backs). */
  couponIds: string[];
  /** The last claim answer's key ("201", "409 sold-out", ...). */
  outcome: string;
  /** A holder whose read-back returned another coupon. */
  readBackMismatch: boolean;
  /** A holder whose read-back got no coupon at all (an error, or 404 after retries). */
  readBackFailed?: boolean;
  /** The waiting room's side of the visit (waiting-room scenarios). */
  room?: RoomVisit;
}

export interface MachineData {
  loadAvgStart: [number, number, number];
  loadAvgEnd: [number, number, number];
  cores: number;
  /** From the first arrival to the last answer. */
  wallMs: number;
  /** CPU used during that time, ms (workerd and the local cloud only with a local stack). */
  workerdCpuMs?: number;
  cloudCpuMs?: number;
  machineBusyMs?: number;
  loadGeneratorCpuMs: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

export interface RunData {
  eventId: string;
  startsAt: string;
  /** ms from startsAt of the first arrival and of the last answer. */
  loadStart: number;
  loadEnd: number;
  records: RequestRecord[];
  visitors: VisitorData[];
  samples: Sample[];
  markers: Marker[];
  /** endAt of the last 201 (ms from startsAt), null when none. */
  lastIssuedAt: number | null;
  drain: { drainedAt: number | null; timeoutMs: number; lastPending: number | null };
  /** The event and its stats once the run is over. */
  eventAfter: {
    issued: number;
    released: number;
    totalStock: number;
    state: string;
    /** The waiting room's public state (events with a room). */
    queue?: { admittedThrough: number } | null;
  } | null;
  statsAfter: unknown;
  machine: MachineData;
  connections: number;
}

export interface RunOptions {
  plan: Plan;
  target: Target;
  runId: string;
  /** Most keep-alive connections the load uses (users beyond wait for a free one). */
  connections: number;
  requestTimeoutMs: number;
  /** Warm the service up first with a small unrecorded crowd on an event of its own. */
  warmup: boolean;
  log: (line: string) => void;
}

/** utime + stime of a process in clock ticks (fields 14 and 15 of /proc/<pid>/stat), 0 if gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Busy ticks of all CPUs (user, nice, system, irq, softirq, steal) from /proc/stat. */
function machineTicks(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
  } catch {
    return 0;
  }
}

/** Clock ticks per second (USER_HZ): 100 on Linux. */
const CLK_TCK = 100;

export async function runScenario(o: RunOptions): Promise<RunData> {
  const { plan, target, log } = o;
  const admin = { authorization: `Bearer ${o.target.adminToken}` };
  const control = newPool(target.baseUrl, 4, 30_000);
  const eventId = `lt-${plan.name}-${o.runId}`.slice(0, 64);

  // Tokens first (minting 25,000 takes a moment), then the event, then the connections.
  const t0 = performance.now();
  const users = await target.users(plan.users, `lt-${o.runId}`);
  log(
    `${users.length.toLocaleString("en-US")} user tokens in ${Math.round(performance.now() - t0)} ms`,
  );
  const connections =
    plan.kind === "saturate" ? plan.concurrency : Math.min(o.connections, plan.users);
  const pool = newPool(target.baseUrl, connections, o.requestTimeoutMs);
  await preconnect(pool, connections);
  if (o.warmup) await warmUp(o, control, pool, Math.min(connections, 250));

  // startsAt leaves room for the lead (visitors already on the page) plus a moment of setup.
  const setupMs = 1_500;
  const startsAtWall = Date.now() + setupMs + plan.leadMs;
  const startsAt = new Date(startsAtWall).toISOString();
  const origin = performance.now() + (startsAtWall - Date.now());
  const rel = (perf: number) => perf - origin;
  const created = await send(
    control,
    "/v1/events",
    "POST",
    { ...admin, "content-type": "application/json" },
    JSON.stringify({
      id: eventId,
      name: `Load test ${plan.name} ${o.runId}`,
      totalStock: plan.stock,
      startsAt,
      waves: plan.waves.map((w) => ({
        at: new Date(startsAtWall + w.atMs).toISOString(),
        quantity: w.quantity,
      })),
      // The room opens now: before the first join, which comes after the setup.
      ...(plan.kind === "room"
        ? {
            queue: {
              opensAt: new Date().toISOString(),
              margin: plan.margin,
              admitSeconds: plan.admitSeconds,
            },
          }
        : {}),
    }),
  );
  if (created.status !== 201) {
    throw new Error(`creating the event: ${created.status || created.error} ${created.body}`);
  }
  log(`event ${eventId}: ${plan.stock.toLocaleString("en-US")} coupons, startsAt ${startsAt}`);

  const records: RequestRecord[] = [];
  const samples: Sample[] = [];
  const markers: Marker[] = plan.waves.map((w, i) => ({
    t: w.atMs,
    label: i === 0 ? "opens" : `wave ${i + 1}`,
  }));
  let lastIssuedAt: number | null = null;

  const record = (kind: Kind, user: number, a: Answer) => {
    records.push({
      kind,
      user,
      queuedAt: rel(a.queuedAt),
      sentAt: rel(a.sentAt),
      endAt: rel(a.endAt),
      status: a.status,
      slug: a.slug,
      retryAfter: a.retryAfter,
      error: a.error,
    });
    if (kind === "claim" && a.status === 201) {
      lastIssuedAt = Math.max(lastIssuedAt ?? -Infinity, rel(a.endAt));
    }
  };

  // The monitor: the event's stats every 200 ms (every 50 ms while waiting for the drain).
  let monitorEvery = 200;
  let monitoring = true;
  let lastStats: unknown = null;
  const sampleOnce = async () => {
    const a = await send(control, `/v1/events/${eventId}/stats`, "GET", admin);
    if (a.status !== 200) return;
    const s = JSON.parse(a.body) as StatsBody;
    lastStats = s;
    samples.push({
      t: rel(a.endAt),
      issued: s.event.issued,
      released: s.event.released,
      remaining: s.event.remaining,
      state: s.event.state,
      pending: s.outbox.pending,
      mysqlDelivered: s.sinks.mysql?.delivered ?? 0,
      kafkaDelivered: s.sinks.kafka?.delivered ?? 0,
      mysqlState: s.sinks.mysql?.state ?? "disabled",
      kafkaState: s.sinks.kafka?.state ?? "disabled",
    });
  };
  const monitor = (async () => {
    while (monitoring) {
      const started = performance.now();
      await sampleOnce();
      await sleep(monitorEvery - (performance.now() - started));
    }
  })();

  // Sink faults, at their times (local stack only).
  const faults = scheduleFaults(plan.faults, target, origin, markers, rel, log);

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const local = target.local;
  const cpu0 = {
    workerd: local ? local.workerdPids.reduce((s, p) => s + cpuTicks(p), 0) : 0,
    cloud: local ? local.cloudPids.reduce((s, p) => s + cpuTicks(p), 0) : 0,
    machine: machineTicks(),
    self: process.cpuUsage(),
  };
  const loadAvgStart = loadavg() as [number, number, number];
  const firstArrival = plan.kind === "saturate" ? 0 : (plan.arrivals[0] ?? 0);
  await sleep(origin + Math.min(firstArrival, 0) - performance.now());
  loop.enable();
  const loadStart = rel(performance.now());
  log(`load starts (${plan.description})`);

  const ctx: CrowdContext = { users, pool, origin, record, rel, eventId };
  let visitors: VisitorData[];
  try {
    visitors =
      plan.kind === "crowd"
        ? await crowd(plan, ctx)
        : plan.kind === "room"
          ? await room(plan, ctx)
          : await saturate(plan, ctx);
  } finally {
    loop.disable();
  }
  const loadEnd = rel(performance.now());
  const cpu1 = {
    workerd: local ? local.workerdPids.reduce((s, p) => s + cpuTicks(p), 0) : 0,
    cloud: local ? local.cloudPids.reduce((s, p) => s + cpuTicks(p), 0) : 0,
    machine: machineTicks(),
    self: process.cpuUsage(cpu0.self),
  };
  const loadAvgEnd = loadavg() as [number, number, number];
  log(
    `load done: ${records.length.toLocaleString("en-US")} requests in ${((loadEnd - loadStart) / 1000).toFixed(1)} s`,
  );
  await faults;

  // The drain: how long after the last issued coupon the outbox is empty.
  monitorEvery = 50;
  const lastFault = Math.max(0, ...plan.faults.map((f) => f.atMs));
  const timeoutMs = 60_000 + lastFault;
  const deadline = performance.now() + timeoutMs;
  let drainedAt: number | null = null;
  while (performance.now() < deadline) {
    const last = samples.at(-1);
    if (last && last.pending === 0 && last.t >= (lastIssuedAt ?? 0) && last.t > loadEnd) {
      drainedAt = firstDrainedSample(samples, lastIssuedAt ?? loadEnd) ?? last.t;
      break;
    }
    await sleep(50);
  }
  monitoring = false;
  await monitor;
  await sampleOnce();
  if (lastIssuedAt !== null) markers.push({ t: lastIssuedAt, label: "last coupon issued" });
  if (drainedAt !== null) markers.push({ t: drainedAt, label: "outbox empty" });
  else log(`the outbox did not drain within ${timeoutMs / 1000} s`);

  const after = await send(control, `/v1/events/${eventId}`, "GET", {});
  let eventAfter: RunData["eventAfter"] = null;
  if (after.status === 200) eventAfter = JSON.parse(after.body) as RunData["eventAfter"];
  else log(`GET the event after the run: ${after.status || after.error}`);
  await pool.destroy();
  await control.destroy();

  const d = loop;
  return {
    eventId,
    startsAt,
    loadStart,
    loadEnd,
    records,
    visitors,
    samples,
    markers: markers.sort((a, b) => a.t - b.t),
    lastIssuedAt,
    drain: { drainedAt, timeoutMs, lastPending: samples.at(-1)?.pending ?? null },
    eventAfter,
    statsAfter: lastStats,
    connections,
    machine: {
      loadAvgStart,
      loadAvgEnd,
      cores: navigator.hardwareConcurrency,
      wallMs: loadEnd - loadStart,
      ...(local
        ? {
            workerdCpuMs: ((cpu1.workerd - cpu0.workerd) * 1000) / CLK_TCK,
            cloudCpuMs: ((cpu1.cloud - cpu0.cloud) * 1000) / CLK_TCK,
            machineBusyMs: ((cpu1.machine - cpu0.machine) * 1000) / CLK_TCK,
          }
        : {}),
      loadGeneratorCpuMs: (cpu1.self.user + cpu1.self.system) / 1000,
      eventLoopDelayMs: {
        p50: d.percentile(50) / 1e6,
        p99: d.percentile(99) / 1e6,
        max: d.max / 1e6,
      },
    },
  };
}

/**
 * A fresh workerd has compiled nothing yet: the first burst would measure the JIT and the first
 * SQLite writes, not the service. `users` claims (a fifth of them issued) and their read-backs
 * on an event of their own, all at once, then a wait for that event's outbox; nothing recorded.
 */
async function warmUp(o: RunOptions, control: Pool, pool: Pool, users: number): Promise<void> {
  const t0 = performance.now();
  const admin = { authorization: `Bearer ${o.target.adminToken}` };
  const id = `lt-warmup-${o.runId}`.slice(0, 64);
  const created = await send(
    control,
    "/v1/events",
    "POST",
    { ...admin, "content-type": "application/json" },
    JSON.stringify({
      id,
      name: "Load test warm-up",
      totalStock: Math.ceil(users / 5),
      startsAt: new Date(Date.now() - 1_000).toISOString(),
    }),
  );
  if (created.status !== 201)
    throw new Error(`creating the warm-up event: ${created.status || created.error}`);
  const tokens = await o.target.users(users, `lt-${o.runId}-warmup`);
  for (let round = 0; round < 2; round++) {
    await Promise.all(
      tokens.map(async (u) => {
        const auth = { authorization: `Bearer ${u.token}` };
        await send(pool, `/v1/events/${id}`, "GET", {});
        await send(pool, `/v1/events/${id}/claims`, "POST", auth);
        await send(pool, `/v1/events/${id}/claims/me`, "GET", auth);
      }),
    );
  }
  for (const deadline = performance.now() + 30_000; performance.now() < deadline; ) {
    const a = await send(control, `/v1/events/${id}/stats`, "GET", admin);
    if (a.status === 200 && (JSON.parse(a.body) as StatsBody).outbox.pending === 0) break;
    await sleep(100);
  }
  o.log(`warmed up in ${Math.round(performance.now() - t0)} ms (${users} users on ${id})`);
}

/** The first sample after `after` from which the outbox stayed empty. */
function firstDrainedSample(samples: Sample[], after: number): number | null {
  let first: number | null = null;
  for (const s of samples) {
    if (s.t < after) continue;
    if (s.pending === 0) first ??= s.t;
    else first = null;
  }
  return first;
}

interface StatsBody {
  event: { issued: number; released: number; remaining: number; state: string };
  outbox: { pending: number };
  sinks: Partial<Record<"mysql" | "kafka", { state: string; delivered: number }>>;
}

function scheduleFaults(
  steps: FaultStep[],
  target: Target,
  origin: number,
  markers: Marker[],
  rel: (perf: number) => number,
  log: (line: string) => void,
): Promise<void> {
  if (steps.length === 0) return Promise.resolve();
  const control = target.local?.stack.gatewayControl;
  if (!control) throw new Error("sink faults need the local stack (its gateway's control port)");
  return Promise.all(
    steps.map(async (step) => {
      await sleep(origin + step.atMs - performance.now());
      const path =
        step.action === "stop" || step.action === "start"
          ? `/apis/${step.api}/${step.action}`
          : `/faults/${step.api}`;
      const body =
        step.action === "error"
          ? JSON.stringify({ mode: "error" })
          : step.action === "heal"
            ? JSON.stringify({ mode: "none" })
            : undefined;
      const res = await controlFetch(control, path, {
        method: "POST",
        headers: body ? { "Content-Type": "application/json" } : {},
        body,
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`gateway control ${path}: ${res.status}`);
      markers.push({ t: rel(performance.now()), label: step.label });
      log(`${step.label} (${step.api} ${step.action})`);
    }),
  ).then(() => undefined);
}

/**
 * The crowd: visitor i arrives at `plan.arrivals[i]` (ms from startsAt) and behaves like the
 * claim page ("page": read the event, poll it every ~pollMs while it is scheduled, claim, read
 * the coupon back) or like a click ("click": claim, read the coupon back). A claim refused with
 * `awaiting-release` or `not-started` is sent again after its Retry-After, as the page would.
 * Only holders read their coupon back.
 */
async function crowd(plan: CrowdPlan, ctx: CrowdContext): Promise<VisitorData[]> {
  const { users, pool, origin, record, rel, eventId } = ctx;
  const eventPath = `/v1/events/${eventId}`;
  const claimPath = `${eventPath}/claims`;
  const minePath = `${eventPath}/claims/me`;
  const visitors: VisitorData[] = users.map((u) => notArrived(u.id));
  // Polls stop this long after the opening even if the event still reads "scheduled".
  const pollUntil = (plan.waves.at(-1)?.atMs ?? 0) + 60_000;

  const visit = async (i: number) => {
    const v = visitors[i] as VisitorData;
    const auth = { authorization: `Bearer ${(users[i] as User).token}` };
    const jitter = prng(i + 1);
    v.arriveAt = rel(performance.now());
    if (plan.behaviour === "page") {
      for (;;) {
        const a = await call(pool, record, "event", i, eventPath, "GET", {}, jitter);
        let state = "";
        try {
          state = a.status === 200 ? (JSON.parse(a.body) as { state: string }).state : "";
        } catch {
          state = "";
        }
        if (state !== "scheduled" || rel(performance.now()) > pollUntil) break;
        await sleep(plan.pollMs * (0.9 + 0.2 * jitter()));
      }
    }
    let claim: Answer | undefined;
    for (let waits = 0; ; waits++) {
      claim = await call(pool, record, "claim", i, claimPath, "POST", auth, jitter);
      v.claims++;
      const ra = retryAfterSeconds(claim.retryAfter);
      const later = claim.slug === "awaiting-release" || claim.slug === "not-started";
      if (!(claim.status === 409 && later && ra !== undefined && waits < 10)) break;
      // Back when the next wave opens, give or take the user's reaction.
      await sleep(ra * 1000 + jitter() * 500);
    }
    v.outcome = outcomeOf(claim);
    const coupon = couponOf(claim);
    if (coupon) {
      v.couponIds.push(coupon.id);
      const back = await call(pool, record, "coupon", i, minePath, "GET", auth, jitter);
      const again = couponOf(back);
      if (again) v.couponIds.push(again.id);
      if (!again) v.readBackFailed = true;
      else if (again.id !== coupon.id) v.readBackMismatch = true;
    }
    v.leaveAt = rel(performance.now());
  };

  // Open model: each visitor is started at its planned time, however busy the service is.
  await arriveOnSchedule(plan.arrivals, origin, visit);
  return visitors;
}

/** `plan.concurrency` closed loops of claims, a fresh user each, until time or users run out. */
async function saturate(plan: SaturatePlan, ctx: CrowdContext): Promise<VisitorData[]> {
  const { users, pool, origin, record, rel, eventId } = ctx;
  const claimPath = `/v1/events/${eventId}/claims`;
  const visitors: VisitorData[] = [];
  const deadline = origin + plan.durationMs;
  let next = 0;
  const loop = async () => {
    while (next < users.length && performance.now() < deadline) {
      const i = next++;
      const u = users[i] as User;
      const v: VisitorData = {
        user: u.id,
        arriveAt: rel(performance.now()),
        leaveAt: Number.NaN,
        claims: 1,
        couponIds: [],
        outcome: "",
        readBackMismatch: false,
      };
      visitors.push(v);
      const a = await send(pool, claimPath, "POST", { authorization: `Bearer ${u.token}` });
      record("claim", i, a);
      const coupon = couponOf(a);
      if (coupon) v.couponIds.push(coupon.id);
      v.outcome = outcomeOf(a);
      v.leaveAt = rel(performance.now());
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, loop));
  return visitors;
}
