/**
 * The report page end to end: a report built by the real code from a synthetic run (and a slower
 * "previous" run of the same scenario), written as report.html, opened in Debian's Chromium
 * through playwright-core with every network request refused, and every chart checked for data
 * and ink. Then report.png, as `npm run loadtest` renders it.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ensureChromium, launch, openReport, renderPng } from "../../loadtest/browser.ts";
import { checkInvariants, checkTargets } from "../../loadtest/checks.ts";
import { CHARTS_PER_RUN, renderHtml } from "../../loadtest/html.ts";
import { buildReport, folderStamp, previousReport, type Report } from "../../loadtest/report.ts";
import { type CrowdPlan, planFor } from "../../loadtest/scenarios.ts";
import { sinksOf, syntheticRun } from "./fixtures.ts";

const plan = planFor("incident", { users: 400, stock: 80, timeScale: 0.1 }) as CrowdPlan;

function report(slowdown: number, date: string): Report {
  const run = syntheticRun(plan, slowdown);
  return buildReport({
    plan,
    run,
    invariants: checkInvariants(plan, run, sinksOf(run)),
    targets: checkTargets(plan, run),
    meta: {
      date,
      commit: slowdown === 1 ? "now123" : "prev456",
      target: "fixture",
      machine: "test machine",
      cores: 2,
      memGiB: 24,
      node: process.version,
    },
    runId: `fixture-${slowdown}`,
    connections: 1_000,
    requestTimeoutMs: 30_000,
    mysqlRows: 80,
    kafkaRecords: 80,
    strict: false,
  });
}

const browser = ensureChromium((line) => console.log(line));
const dir = mkdtempSync(join(tmpdir(), "loadtest-report-"));
let html = "";
let previous: Report | undefined;

beforeAll(() => {
  // Two runs of the scenario in a reports folder: the page of the newer one shows the older.
  const older = report(4, "2026-11-27T05:00:00.000Z");
  const olderDir = join(dir, `${folderStamp(new Date(older.meta.date))}-incident`);
  mkdirSync(olderDir);
  writeFileSync(join(olderDir, "report.json"), JSON.stringify(older));
  const now = report(1, "2026-12-04T05:00:00.000Z");
  const nowName = `${folderStamp(new Date(now.meta.date))}-incident`;
  previous = previousReport(dir, "incident", nowName);
  mkdirSync(join(dir, nowName));
  html = join(dir, nowName, "report.html");
  writeFileSync(html, renderHtml(now, previous));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the report page", () => {
  test("finds the previous run of the same scenario", () => {
    expect(previous?.meta.commit).toBe("prev456");
  });

  test("is one self-contained file: no script, style or image from elsewhere", () => {
    const text = readFileSync(html, "utf8");
    expect(text).not.toMatch(/<script[^>]+src=/);
    expect(text).not.toMatch(/<link[^>]+href=/);
    expect(text).toContain("Chart.js v4");
  });

  test.skipIf("missing" in browser)(
    `draws every chart with data, this run and the previous one, with no network${"missing" in browser ? ` (skipped: ${browser.missing})` : ""}`,
    async () => {
      const { browser: chromium, page } = await launch((browser as { path: string }).path);
      try {
        const { charts, blocked, errors } = await openReport(page, html);
        expect(errors).toEqual([]);
        expect(blocked).toEqual([]);
        expect(charts.map((c) => c.id).sort()).toEqual(
          ["latency", "answers", "in-flight", "stock", "drain"]
            .flatMap((id) => [`now-${id}`, `prev-${id}`])
            .sort(),
        );
        expect(charts).toHaveLength(2 * CHARTS_PER_RUN);
        for (const c of charts) {
          expect(c.points, `${c.id} has data`).toBeGreaterThan(0);
          // Axes alone ink a few thousand pixels; lines, bars and legends many more.
          expect(c.inked, `${c.id} is drawn`).toBeGreaterThan(8_000);
        }
        const verdicts = await page.locator("table.checks td.pass").count();
        expect(verdicts).toBeGreaterThanOrEqual(7);
      } finally {
        await chromium.close();
      }
    },
    60_000,
  );

  test.skipIf("missing" in browser)(
    "renders to report.png",
    async () => {
      const png = join(dir, "report.png");
      await renderPng((browser as { path: string }).path, html, png);
      expect(existsSync(png)).toBe(true);
      expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
      expect(statSync(png).size).toBeGreaterThan(50_000);
    },
    60_000,
  );
});
