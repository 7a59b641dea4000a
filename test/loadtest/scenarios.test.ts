import { describe, expect, test } from "vitest";
import {
  type CrowdPlan,
  incidentArrivals,
  inFlightAt,
  planFor,
  SCENARIO_NAMES,
  stagedWaves,
} from "../../loadtest/scenarios.ts";

const crowd = (name: Parameters<typeof planFor>[0], o = {}) => planFor(name, o) as CrowdPlan;

describe("the incident's shape", () => {
  const plan = crowd("incident");

  test("2,500 visitors for 500 coupons, sorted arrivals", () => {
    expect(plan.users).toBe(2_500);
    expect(plan.stock).toBe(500);
    expect(plan.arrivals).toHaveLength(2_500);
    expect([...plan.arrivals].sort((a, b) => a - b)).toEqual(plan.arrivals);
  });

  test("150 visitors in flight at the start, 800 at the opening 30 s later", () => {
    // Nobody leaves before the opening: they all poll, so in flight = arrived.
    const arrived = (t: number) => plan.arrivals.filter((a) => a <= t).length;
    expect(arrived(-29_000)).toBe(150);
    expect(arrived(-15_000)).toBeGreaterThan(440);
    expect(arrived(-15_000)).toBeLessThan(500);
    expect(arrived(0)).toBe(800);
    expect(plan.arrivals[0]).toBe(-30_000);
    expect(plan.leadMs).toBe(30_000);
  });

  test("the rest arrive after the opening at the incident's 150 per second", () => {
    const late = plan.arrivals.filter((a) => a > 0);
    expect(late).toHaveLength(1_700);
    const perSecond = late.filter((a) => a <= 1_000).length;
    expect(perSecond).toBeGreaterThanOrEqual(149);
    expect(perSecond).toBeLessThanOrEqual(151);
  });

  test("a time scale compresses every time, not the crowd", () => {
    const fast = crowd("incident", { users: 300, stock: 60, timeScale: 0.2 });
    expect(fast.arrivals).toHaveLength(300);
    expect(fast.arrivals[0]).toBe(-6_000);
    expect(fast.pollMs).toBe(400);
    expect(fast.arrivals.filter((a) => a <= 0)).toHaveLength(96);
    expect(Math.max(...fast.arrivals)).toBeLessThan(0.2 * 12_000);
  });

  test("in flight counts visitors between arrival and departure", () => {
    expect(inFlightAt(5, [0, 1, 10], [6, 4, 20])).toBe(1);
    expect(inFlightAt(10, [0, 1, 10], [6, 4, 20])).toBe(1);
    expect(incidentArrivals(1, 1)).toHaveLength(1);
  });
});

describe("the other scenarios", () => {
  test("burst: 2,500 clicks within one second of startsAt; 10x: 25,000 for 5,000", () => {
    const burst = crowd("burst");
    expect(burst.arrivals).toHaveLength(2_500);
    expect(Math.min(...burst.arrivals)).toBe(0);
    expect(Math.max(...burst.arrivals)).toBeLessThan(1_000);
    expect(burst.behaviour).toBe("click");
    const tenfold = crowd("burst-10x");
    expect([tenfold.users, tenfold.stock]).toEqual([25_000, 5_000]);
  });

  test("weekly-N: N concurrent at the opening, stock N / 5, the incident's shape", () => {
    for (const n of [100, 200, 500]) {
      const p = crowd(`weekly-${n}` as "weekly-100");
      expect(p.stock).toBe(n / 5);
      expect(p.arrivals.filter((a) => a <= 0)).toHaveLength(n);
      expect(p.users).toBe(Math.round((n * 2_500) / 800));
    }
  });

  test("waves: 100, then +200 a minute later, then +200, scaled", () => {
    expect(crowd("waves").waves).toEqual([
      { atMs: 0, quantity: 100 },
      { atMs: 60_000, quantity: 200 },
      { atMs: 120_000, quantity: 200 },
    ]);
    expect(crowd("waves", { timeScale: 0.05 }).waves.map((w) => w.atMs)).toEqual([0, 3_000, 6_000]);
    for (const stock of [1, 4, 5, 7, 60, 501]) {
      const waves = stagedWaves(stock, 1);
      expect(waves.reduce((s, w) => s + w.quantity, 0)).toBe(stock);
      expect(waves.every((w) => w.quantity >= 1)).toBe(true);
    }
  });

  test("sink-outage: MySQL down, then Kafka down, both back before the drain", () => {
    const p = crowd("sink-outage");
    expect(p.faults.map((f) => `${f.api} ${f.action}`)).toEqual([
      "planetscale stop",
      "kafka error",
      "planetscale start",
      "kafka heal",
    ]);
  });

  test("saturate: fixed concurrency, a huge stock, N seconds", () => {
    const p = planFor("saturate", { concurrency: 32, durationSec: 3 });
    expect(p.kind).toBe("saturate");
    if (p.kind !== "saturate") return;
    expect([p.concurrency, p.durationMs, p.stock]).toEqual([32, 3_000, 10_000_000]);
  });

  test("every scenario has a plan; only incident and burst carry the targets", () => {
    const withTargets = SCENARIO_NAMES.filter((n) => planFor(n).targets);
    expect(withTargets).toEqual(["incident", "burst"]);
  });
});
