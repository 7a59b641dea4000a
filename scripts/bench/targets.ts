/** Issue 20's targets, checked on a run's medians (and, for the relative ones, before's). */
import { fmtInt, fmtMs } from "./format.ts";
import type { Config, ScenarioName } from "./options.ts";
import type { BenchFile, Medians } from "./result.ts";

export interface Target {
  label: string;
  /** The figure shown, and whether it meets the target; undefined when not measured. */
  /** `before`: the results the relative targets compare with, when there are any. */
  check(
    results: BenchFile["results"],
    config: Config,
    before?: BenchFile["results"],
  ): { shown: string; pass?: boolean } | undefined;
}

export const ok = (r: Medians | undefined): r is Medians =>
  r !== undefined && r.failed === undefined;
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
    label: "burst-10x-sharded ({shards} shards): exactly {burst10x.stock} issued, 0 errors",
    check: (r, c) => exact(r["burst-10x-sharded"], c.burst10x.stock),
  },
  {
    // Locally every shard shares the one objects process: this is what sharding costs, not gains.
    label: "saturate-sharded ≥ 0.5x saturate (the local cost of {shards} shards)",
    check: (r) => ratio(r, "saturate-sharded", "saturate", 0.5),
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

function targetLabel(t: Target, config: Config): string {
  return t.label
    .replace("{burst.stock}", fmtInt(config.burst.stock))
    .replace(/\{shards\}/g, String(config.shards))
    .replace("{burst10x.stock}", fmtInt(config.burst10x.stock));
}

export function targetsTable(now: BenchFile, before: BenchFile | undefined): string {
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
