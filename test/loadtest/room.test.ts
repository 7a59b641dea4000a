import { describe, expect, test } from "vitest";
import { checkInvariants } from "../../loadtest/checks.ts";
import type { RequestRecord } from "../../loadtest/http.ts";
import { roomFigures } from "../../loadtest/room-checks.ts";
import type { RunData, VisitorData } from "../../loadtest/run.ts";
import { planFor, type RoomPlan } from "../../loadtest/scenarios.ts";
import { sinksOf } from "./fixtures.ts";

const room = (o = {}) => planFor("waiting-room-10x", o) as RoomPlan;
const failing = (checks: { name: string; verdict: string }[]) =>
  checks.filter((c) => c.verdict === "fail").map((c) => c.name);

/**
 * A clean waiting-room run: everyone joins, the first `stock` users are admitted at the draw
 * (2.5 s) and claim, the others poll and are told sold-out a few seconds after the last coupon.
 */
function roomRun(plan: RoomPlan): RunData {
  const records: RequestRecord[] = [];
  const req = (
    kind: RequestRecord["kind"],
    user: number,
    at: number,
    status = 200,
    slug?: string,
  ) => {
    records.push({ kind, user, queuedAt: at, sentAt: at, endAt: at + 5, status, slug });
    return at + 5;
  };
  const lastIssuedAt = 2_600 + plan.stock;
  const visitors: VisitorData[] = plan.arrivals.map((arrive, i) => {
    let t = req("join", i, arrive, 201);
    const v: VisitorData = {
      user: `u-${i}`,
      arriveAt: arrive,
      leaveAt: Number.NaN,
      claims: 0,
      couponIds: [],
      outcome: "",
      readBackMismatch: false,
      room: {
        ticket: true,
        admittedAt: null,
        soldOutAt: null,
        answeredAt: null,
        position: i + 1,
        polls: 1,
      },
    };
    const r = v.room as NonNullable<VisitorData["room"]>;
    t = req("status", i, t);
    if (i % plan.impatientEvery === 0) {
      req("claim", i, t, 409, "not-started");
      v.claims++;
      r.impatient = "409 not-started";
    }
    if (i < plan.stock) {
      r.polls++;
      r.admittedAt = req("status", i, 2_500 + i);
      const end = req("claim", i, r.admittedAt + 1, 201);
      v.claims++;
      v.couponIds.push(`c-${i}`);
      r.answeredAt = end;
      v.outcome = "201";
    } else {
      r.polls++;
      r.soldOutAt = req("status", i, lastIssuedAt + 1_000 + (i % 5_000));
      r.answeredAt = r.soldOutAt;
      v.outcome = "status sold-out";
    }
    v.leaveAt = r.answeredAt;
    return v;
  });
  return {
    eventId: "lt-room-fixture",
    startsAt: "2026-12-04T14:00:00.000Z",
    loadStart: plan.arrivals[0] ?? 0,
    loadEnd: Math.max(...visitors.map((v) => v.leaveAt)),
    records,
    visitors,
    samples: [],
    markers: [],
    lastIssuedAt,
    drain: { drainedAt: lastIssuedAt + 100, timeoutMs: 60_000, lastPending: 0 },
    eventAfter: {
      issued: plan.stock,
      released: plan.stock,
      totalStock: plan.stock,
      state: "sold-out",
      queue: { admittedThrough: plan.stock },
    },
    statsAfter: { claims: { issued: plan.stock, rejected: { "not-started": 10, "sold-out": 3 } } },
    connections: 1_000,
    machine: {
      loadAvgStart: [0, 0, 0],
      loadAvgEnd: [0, 0, 0],
      cores: 2,
      wallMs: 1,
      loadGeneratorCpuMs: 1,
      eventLoopDelayMs: { p50: 1, p99: 1, max: 1 },
    },
  };
}

describe("waiting-room-10x", () => {
  test("by default 25,000 users join in the last 10 s before startsAt, 5,000 coupons", () => {
    const p = room();
    expect([p.kind, p.users, p.stock, p.timeScale]).toEqual(["room", 25_000, 5_000, 1]);
    expect(p.arrivals).toHaveLength(25_000);
    expect([...p.arrivals].sort((a, b) => a - b)).toEqual(p.arrivals);
    expect(Math.min(...p.arrivals)).toBeGreaterThanOrEqual(-10_000);
    expect(Math.max(...p.arrivals)).toBeLessThan(0);
    expect(p.leadMs).toBe(10_000);
    expect([p.margin, p.admitSeconds]).toEqual([0, 120]);
    expect(p.waves).toEqual([{ atMs: 0, quantity: 5_000 }]);
    expect(p.targets).toBe(false);
  });

  test("--users, --stock and --time-scale scale it; admissions never below the API's 10 s", () => {
    const p = room({ users: 2_000, stock: 400, timeScale: 0.3 });
    expect([p.users, p.stock, p.arrivals.length, p.leadMs]).toEqual([2_000, 400, 2_000, 3_000]);
    expect(Math.min(...p.arrivals)).toBeGreaterThanOrEqual(-3_000);
    expect(p.admitSeconds).toBe(36);
    expect(room({ timeScale: 0.01 }).admitSeconds).toBe(10);
  });

  test("a clean run keeps every invariant, the room's two included", () => {
    const plan = room({ users: 500, stock: 100 });
    const run = roomRun(plan);
    const checks = checkInvariants(plan, run, sinksOf(run));
    expect(checks.map((c) => c.name)).toContain("no claim answered 201 to a user not admitted");
    expect(checks.map((c) => c.name)).toContain("every waiter told sold-out after the last coupon");
    expect(failing(checks)).toEqual([]);
  });

  test("a coupon to a user beyond the room's frontier, or before startsAt, fails", () => {
    const plan = room({ users: 500, stock: 100 });
    const name = "no claim answered 201 to a user not admitted";
    const check = (run: RunData) =>
      checkInvariants(plan, run, sinksOf(run)).find((c) => c.name === name);
    // Admitted without asking (its place within the frontier, after startsAt): allowed.
    const unasked = roomRun(plan);
    (unasked.visitors[3]?.room as { admittedAt: number | null }).admittedAt = null;
    expect(check(unasked)?.verdict).toBe("pass");
    expect(check(unasked)?.detail).toContain("1 to a user admitted without asking");
    // A waiter (place 201, beyond the frontier of 100) answered 201.
    const beyond = roomRun(plan);
    beyond.records.push({
      kind: "claim",
      user: 200,
      queuedAt: 3_000,
      sentAt: 3_000,
      endAt: 3_005,
      status: 201,
    });
    expect(check(beyond)?.verdict).toBe("fail");
    // Within the frontier but sent before startsAt, without an admitted status.
    const early = roomRun(plan);
    const first = early.records.find((r) => r.kind === "claim" && r.status === 201 && r.user === 5);
    (early.visitors[5]?.room as { admittedAt: number | null }).admittedAt = null;
    (first as RequestRecord).sentAt = -100;
    expect(check(early)?.verdict).toBe("fail");
  });

  test("a waiter never told sold-out, or told before the last coupon, fails", () => {
    const plan = room({ users: 500, stock: 100 });
    const name = "every waiter told sold-out after the last coupon";
    const untold = roomRun(plan);
    (untold.visitors[200]?.room as { soldOutAt: number | null }).soldOutAt = null;
    expect(failing(checkInvariants(plan, untold, sinksOf(untold)))).toEqual([name]);
    const early = roomRun(plan);
    (early.visitors[200]?.room as { soldOutAt: number | null }).soldOutAt = 2_000;
    expect(failing(checkInvariants(plan, early, sinksOf(early)))).toEqual([name]);
  });

  test("issued must be min(users with a ticket, stock); queued is a claim answer only here", () => {
    const plan = room({ users: 500, stock: 100 });
    const run = roomRun(plan);
    run.eventAfter = { ...(run.eventAfter as NonNullable<RunData["eventAfter"]>), issued: 99 };
    expect(failing(checkInvariants(plan, run, sinksOf(run)))).toContain(
      "issued = min(users, stock)",
    );
    const queued = roomRun(plan);
    const claim = queued.records.find((r) => r.kind === "claim") as RequestRecord;
    queued.records.push({ ...claim, status: 409, slug: "queued" });
    expect(failing(checkInvariants(plan, queued, sinksOf(queued)))).toEqual([]);
    const crowd = planFor("burst", { users: 500, stock: 100 });
    expect(
      checkInvariants(crowd, queued, sinksOf(queued)).find((c) => c.name.startsWith("no answer"))
        ?.verdict,
    ).toBe("fail");
  });

  test("figures: the event's decisions, the latencies, the sold-out delay", () => {
    const plan = room({ users: 500, stock: 100 });
    const f = roomFigures(roomRun(plan));
    expect([f.joined, f.admitted, f.holders, f.toldSoldOut]).toEqual([500, 100, 100, 400]);
    expect(f.requests).toEqual({ join: 500, status: 1_000, claim: 150, impatientClaims: 50 });
    expect(f.object).toEqual({
      issued: 100,
      rejected: { "not-started": 10, "sold-out": 3 },
      decisions: 113,
    });
    expect(f.latency.join.p99).toBe(5);
    // Waiters hear sold-out 1,005..1,404 ms after the last coupon (i % 5,000 for i = 100..499).
    expect(f.soldOutAfterLastCoupon.count).toBe(400);
    expect(f.soldOutAfterLastCoupon.max).toBe(1_504);
    expect(f.pollsPerUser).toEqual({ p50: 2, max: 2 });
  });
});
