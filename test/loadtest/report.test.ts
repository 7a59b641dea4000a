import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { checkInvariants, checkTargets } from "../../loadtest/checks.ts";
import { helpText } from "../../loadtest/help.ts";
import { renderHtml } from "../../loadtest/html.ts";
import {
  binWidth,
  buildReport,
  buildSeries,
  headline,
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

describe("the headline (issue 22 item 4)", () => {
  const withTargets = (verdicts: ("pass" | "fail")[], pass = true) => ({
    pass,
    targets: verdicts.map((verdict, i) => ({ name: `t${i}`, verdict, detail: "" })),
  });

  test("says pass in green only when every target is met too", () => {
    expect(headline(withTargets(["pass", "pass"]))).toEqual({ text: "pass", tone: "pass" });
    expect(headline(withTargets(["fail", "pass", "fail"]))).toEqual({
      text: "invariants pass · 2 targets missed",
      tone: "warn",
    });
    expect(headline(withTargets(["fail"]))).toEqual({
      text: "invariants pass · 1 target missed",
      tone: "warn",
    });
    expect(headline(withTargets(["fail"], false))).toEqual({
      text: "FAIL · 1 target missed",
      tone: "fail",
    });
    expect(headline(withTargets([], false))).toEqual({ text: "FAIL", tone: "fail" });
  });

  test("the page's title and heading carry it, in the warning colour", () => {
    const r = reportOf(plan);
    const missed: Report = {
      ...r,
      targets: r.targets.map((c, i) => (i < 2 ? { ...c, verdict: "fail" as const } : c)),
    };
    const html = renderHtml(missed, undefined);
    expect(html).toContain("<title>Load test incident: invariants pass · 2 targets missed</title>");
    expect(html).toContain('<span class="verdict-warn">invariants pass · 2 targets missed</span>');
    expect(html).not.toContain('class="verdict-pass"');
  });
});

describe("--help", () => {
  test("is the usage text without comment delimiters or * prefixes", () => {
    const text = helpText(readFileSync(new URL("../../loadtest/main.ts", import.meta.url), "utf8"));
    expect(text.startsWith("`npm run loadtest -- --scenario <name> [options]`")).toBe(true);
    expect(text).toContain("\n  --users N --stock N ");
    expect(text).not.toMatch(/^\s*\*/m);
    expect(text).not.toContain("/**");
    expect(text).not.toContain("*/");
  });
});
