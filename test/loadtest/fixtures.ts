/**
 * A synthetic run of a crowd plan, shaped like a real one (visitors polling, a claim each, the
 * stock selling out, the outbox draining), for the checks, the report and the page: no service.
 */

import type { SinkReads } from "../../loadtest/checks.ts";
import type { RequestRecord } from "../../loadtest/http.ts";
import type { RunData, Sample, VisitorData } from "../../loadtest/run.ts";
import type { CrowdPlan } from "../../loadtest/scenarios.ts";

/** `slowdown` multiplies every latency (a "previous run" that was slower). */
export function syntheticRun(plan: CrowdPlan, slowdown = 1): RunData {
  const records: RequestRecord[] = [];
  const visitors: VisitorData[] = [];
  let issued = 0;
  let lastIssuedAt: number | null = null;
  const req = (
    kind: RequestRecord["kind"],
    user: number,
    at: number,
    ms: number,
    status: number,
    slug?: string,
  ) => {
    records.push({ kind, user, queuedAt: at, sentAt: at, endAt: at + ms, status, slug });
    return at + ms;
  };
  plan.arrivals.forEach((arrive, i) => {
    let t = arrive;
    if (plan.behaviour === "page") {
      while (t < 0) {
        t = req("event", i, t, 2 * slowdown, 200);
        t += plan.pollMs;
      }
      t = req("event", i, t, 3 * slowdown, 200);
    }
    const ms = (5 + (i % 50) * 2) * slowdown;
    const couponIds: string[] = [];
    let outcome = "409 sold-out";
    if (issued < plan.stock) {
      issued++;
      t = req("claim", i, t, ms, 201);
      lastIssuedAt = Math.max(lastIssuedAt ?? 0, t);
      couponIds.push(`c-${i}`, `c-${i}`);
      outcome = "201";
      t = req("coupon", i, t, 2 * slowdown, 200);
    } else {
      t = req("claim", i, t, ms / 2, 409, "sold-out");
    }
    visitors.push({
      user: `u-${i}`,
      arriveAt: arrive,
      leaveAt: t,
      claims: 1,
      couponIds,
      outcome,
      readBackMismatch: false,
    });
  });
  const loadStart = plan.arrivals[0] ?? 0;
  const loadEnd = Math.max(...visitors.map((v) => v.leaveAt));
  const samples: Sample[] = [];
  const drainedAt = (lastIssuedAt ?? 0) + 200 * slowdown;
  for (let t = loadStart; t <= drainedAt + 400; t += 100) {
    const done = records.filter(
      (r) => r.kind === "claim" && r.status === 201 && r.endAt <= t,
    ).length;
    const delivered = t >= drainedAt ? done : Math.floor(done / 2);
    samples.push({
      t,
      issued: done,
      released: t >= 0 ? plan.stock : 0,
      remaining: t >= 0 ? plan.stock - done : 0,
      state: t < 0 ? "scheduled" : done < plan.stock ? "open" : "sold-out",
      pending: done - delivered,
      mysqlDelivered: delivered,
      kafkaDelivered: delivered,
      mysqlState: "ok",
      kafkaState: "ok",
    });
  }
  return {
    eventId: `lt-${plan.name}-fixture`,
    startsAt: "2026-12-04T14:00:00.000Z",
    loadStart,
    loadEnd,
    records,
    visitors,
    samples,
    markers: [
      { t: 0, label: "opens" },
      { t: lastIssuedAt ?? 0, label: "last coupon issued" },
      { t: drainedAt, label: "outbox empty" },
    ],
    lastIssuedAt,
    drain: { drainedAt, timeoutMs: 60_000, lastPending: 0 },
    eventAfter: { issued, released: plan.stock, totalStock: plan.stock, state: "sold-out" },
    statsAfter: null,
    connections: 1_000,
    machine: {
      loadAvgStart: [0.5, 0.4, 0.3],
      loadAvgEnd: [0.9, 0.5, 0.3],
      cores: 2,
      wallMs: loadEnd - loadStart,
      workerdCpuMs: 900,
      cloudCpuMs: 100,
      machineBusyMs: 1_500,
      loadGeneratorCpuMs: 300,
      eventLoopDelayMs: { p50: 1, p99: 5, max: 12 },
    },
  };
}

/** What the sinks would hold after that run: every coupon once in MySQL and on the topic. */
export function sinksOf(run: RunData): SinkReads {
  const holders = run.visitors.filter((v) => v.couponIds.length > 0);
  return {
    mysql: { rows: holders.map((v) => ({ id: v.couponIds[0] as string, userId: v.user })) },
    kafka: {
      records: holders.map((v) => ({
        key: v.couponIds[0] as string,
        couponId: v.couponIds[0] as string,
        type: "coupon.issued",
        eventId: run.eventId,
      })),
    },
  };
}
