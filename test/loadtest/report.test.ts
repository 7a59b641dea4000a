import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { checkInvariants, checkTargets } from "../../loadtest/checks.ts";
import {
  binWidth,
  buildReport,
  buildSeries,
  previousReport,
  type Report,
} from "../../loadtest/report.ts";
import { type CrowdPlan, planFor } from "../../loadtest/scenarios.ts";
import { sinksOf, syntheticRun } from "./fixtures.ts";

const plan = planFor("incident", { users: 500, stock: 100, timeScale: 0.1 }) as CrowdPlan;

function reportOf(p: CrowdPlan, target = "local"): Report {
  const run = syntheticRun(p);
  return buildReport({
    plan: p,
    run,
    invariants: checkInvariants(p, run, sinksOf(run)),
    targets: checkTargets(p, run),
    meta: { date: "", commit: "c", target, machine: "m", cores: 2, memGiB: 24, node: "v24" },
    runId: "r",
    connections: 1_000,
    requestTimeoutMs: 30_000,
    mysqlRows: 100,
    kafkaRecords: 100,
    strict: false,
  });
}

describe("time series", () => {
  test("bins are nice widths, at most ~120 of them", () => {
    expect(binWidth(1_000)).toBe(50);
    expect(binWidth(45_000)).toBe(500);
    expect(binWidth(200_000)).toBe(2_000);
  });

  test("every answer lands in one bin; visitors in flight peak at the opening", () => {
    const run = syntheticRun(plan);
    const s = buildSeries(run);
    const total = Object.values(s.answers).reduce((n, xs) => n + xs.reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(run.records.length);
    expect(Object.keys(s.answers)).toEqual([
      "claim 201",
      "claim 409 sold-out",
      "coupon 200",
      "event 200",
    ]);
    const peak = Math.max(...s.visitorsInFlight);
    expect(peak).toBeGreaterThanOrEqual(160);
    expect(s.visitorsInFlight.at(-1)).toBeLessThan(peak);
    expect(s.claimLatency.p99.some((x) => x !== null)).toBe(true);
  });

  test("the report carries every figure and a verdict", () => {
    const r = reportOf(plan);
    expect(r.pass).toBe(true);
    expect(r.summary.answers["claim 201"]).toBe(100);
    expect(r.summary.outcomes["409 sold-out"]).toBe(400);
    expect(r.summary.latency.claim.count).toBe(500);
    expect(r.summary.drainMs).toBe(200);
    expect(r.machine.workerdUsPerRequest).toBeGreaterThan(0);
  });
});

describe("the previous run", () => {
  const dir = mkdtempSync(join(tmpdir(), "loadtest-previous-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, r: Report) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, "report.json"), JSON.stringify(r));
  };

  test("is the newest run of the scenario with the same settings, else the newest", () => {
    const full = reportOf(plan);
    const smoke = reportOf(
      planFor("incident", { users: 300, stock: 60, timeScale: 0.1 }) as CrowdPlan,
    );
    put("2026-12-01T10-00-00Z-incident", { ...full, runId: "older full" });
    put("2026-12-02T10-00-00Z-incident", { ...smoke, runId: "newer smoke" });
    put("2026-12-03T10-00-00Z-burst", { ...full, scenario: "burst", runId: "burst" });
    expect(previousReport(dir, "incident", undefined, full)?.runId).toBe("older full");
    expect(previousReport(dir, "incident", undefined, smoke)?.runId).toBe("newer smoke");
    expect(previousReport(dir, "incident", undefined, reportOf(plan, "elsewhere"))?.runId).toBe(
      "newer smoke",
    );
    expect(previousReport(dir, "incident", "2026-12-02T10-00-00Z-incident")?.runId).toBe(
      "older full",
    );
    expect(previousReport(dir, "waves")).toBeUndefined();
  });
});
