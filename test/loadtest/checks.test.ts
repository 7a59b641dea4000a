import { describe, expect, test } from "vitest";
import { checkInvariants, checkTargets } from "../../loadtest/checks.ts";
import { percentiles } from "../../loadtest/http.ts";
import { type CrowdPlan, planFor } from "../../loadtest/scenarios.ts";
import { sinksOf, syntheticRun } from "./fixtures.ts";

const plan = planFor("incident", { users: 200, stock: 40, timeScale: 0.1 }) as CrowdPlan;
const verdicts = (checks: { name: string; verdict: string }[]) =>
  Object.fromEntries(checks.map((c) => [c.name, c.verdict]));
const failing = (checks: { name: string; verdict: string }[]) =>
  checks.filter((c) => c.verdict === "fail").map((c) => c.name);

describe("invariants", () => {
  test("a clean run passes every one", () => {
    const run = syntheticRun(plan);
    const checks = checkInvariants(plan, run, sinksOf(run));
    expect(checks).toHaveLength(7);
    expect(failing(checks)).toEqual([]);
  });

  test("issued must be min(users, stock)", () => {
    const run = syntheticRun(plan);
    run.eventAfter = { ...(run.eventAfter as NonNullable<typeof run.eventAfter>), issued: 41 };
    expect(failing(checkInvariants(plan, run, sinksOf(run)))).toContain(
      "issued = min(users, stock)",
    );
  });

  test("a user with two coupon ids, or one id for two users, fails", () => {
    const run = syntheticRun(plan);
    run.visitors[0]?.couponIds.push("another");
    expect(failing(checkInvariants(plan, run, sinksOf(run)))).toContain(
      "no user with two coupon ids",
    );
    const shared = syntheticRun(plan);
    (shared.visitors[1] as { couponIds: string[] }).couponIds = ["c-0"];
    expect(failing(checkInvariants(plan, shared, sinksOf(shared)))).toContain(
      "no user with two coupon ids",
    );
  });

  test("a holder whose read-back fails or returns another coupon fails", () => {
    const name = "every issued coupon answered to its user and read back";
    for (const change of [{ readBackFailed: true }, { readBackMismatch: true }]) {
      const run = syntheticRun(plan);
      Object.assign(run.visitors[0] as object, change);
      expect(failing(checkInvariants(plan, run, sinksOf(run)))).toEqual([name]);
    }
  });

  test("a 500, a network error or a 503 without Retry-After is not allowed; 503 with it is", () => {
    const run = syntheticRun(plan);
    const claim = run.records.find((r) => r.kind === "claim") as (typeof run.records)[number];
    run.records.push({ ...claim, status: 503, slug: "unavailable", retryAfter: "1" });
    const name = "no answer other than 201/200/409 (429/503 only with Retry-After)";
    expect(verdicts(checkInvariants(plan, run, sinksOf(run)))[name]).toBe("pass");
    for (const bad of [
      { status: 503, slug: "unavailable", retryAfter: undefined },
      { status: 500, slug: "internal" },
      { status: 0, error: "UND_ERR_SOCKET" },
      { status: 409, slug: "conflict" },
    ]) {
      const r = syntheticRun(plan);
      r.records.push({ ...claim, ...bad });
      const check = checkInvariants(plan, r, sinksOf(r)).find((c) => c.name === name);
      expect(check?.verdict).toBe("fail");
    }
  });

  test("a coupon missing from MySQL or written twice, or missing from Kafka, fails", () => {
    const run = syntheticRun(plan);
    const sinks = sinksOf(run);
    if (!("rows" in sinks.mysql) || !("records" in sinks.kafka)) throw new Error("fixture");
    sinks.mysql.rows.pop();
    sinks.kafka.records.pop();
    expect(failing(checkInvariants(plan, run, sinks))).toEqual([
      "every issued coupon in MySQL exactly once",
      "every issued coupon on Kafka at least once",
    ]);
    const twice = sinksOf(run);
    if ("rows" in twice.mysql)
      twice.mysql.rows.push({ ...(twice.mysql.rows[0] as { id: string; userId: string }) });
    expect(failing(checkInvariants(plan, run, twice))).toEqual([
      "every issued coupon in MySQL exactly once",
    ]);
  });

  test("sinks that cannot be read are skipped, with the reason", () => {
    const run = syntheticRun(plan);
    const checks = checkInvariants(plan, run, {
      mysql: { skipped: "no MySQL access" },
      kafka: { skipped: "no Kafka access" },
    });
    expect(checks.filter((c) => c.verdict === "skipped").map((c) => c.detail)).toEqual([
      "no MySQL access",
      "no Kafka access",
    ]);
  });

  test("an outbox that never empties fails, with what was left", () => {
    const run = syntheticRun(plan);
    run.drain = { drainedAt: null, timeoutMs: 60_000, lastPending: 7 };
    const check = checkInvariants(plan, run, sinksOf(run)).find((c) => c.name === "outbox drained");
    expect(check).toMatchObject({
      verdict: "fail",
      detail: "7 rows still pending 60.00 s after the load",
    });
  });
});

describe("targets", () => {
  test("incident: latencies and the drain against the issue's numbers", () => {
    const fast = checkTargets(plan, syntheticRun(plan));
    expect(failing(fast)).toEqual([]);
    const slow = checkTargets(plan, syntheticRun(plan, 10));
    expect(failing(slow)).toEqual(["claim p95 ≤ 100 ms", "claim p99 ≤ 250 ms"]);
  });

  test("scenarios without targets report none", () => {
    const weekly = planFor("weekly-100") as CrowdPlan;
    expect(checkTargets(weekly, syntheticRun(weekly))).toEqual([]);
  });

  test("percentiles are nearest-rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentiles(xs)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentiles([])).toMatchObject({ count: 0, p99: 0 });
  });
});
