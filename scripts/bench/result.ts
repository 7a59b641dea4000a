/**
 * The benchmark's results as data: one run's summary, the medians per scenario, and the JSON file
 * written beside the Markdown report (BENCHMARKS.json beside BENCHMARKS.md), which also keeps the
 * "before" a later run compares with.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { LoadSummary } from "../bench-load.ts";
import type { Config, ScenarioName } from "./options.ts";

export interface RunResult {
  summary: LoadSummary;
  /** Answers that were not what the scenario expects. */
  errors: number;
  /** 201 answers (claims issued), and the event's `issued` read back afterwards. */
  issued: number;
  issuedServer?: number;
}

export interface Medians {
  runs: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Bursts: latency from the common instant (p50, p99, max), medians of runs. */
  fromInstant?: { p50: number; p99: number; max: number };
  workerdUsPerReq: number;
  /** Per process: the fronts' CPU per request, the objects' per request and per issued claim. */
  frontUsPerReq: number;
  objectsUsPerReq: number;
  objectsUsPerIssued: number | null;
  /** The load thread's CPU as a share of one core during the load. */
  loadCpuPct: number;
  /** Other processes' CPU (not the stack's) during the load, as a share of one core. */
  otherCpuPct: number;
  statuses: Record<string, number>;
  errorsPerRun: number[];
  issuedPerRun: number[];
  /** Other answers seen (counts summed over runs), for the report. */
  unexpected: Record<string, number>;
  failed?: string;
}

export interface Meta {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  workerd: string;
  /** Front processes (0: front and objects in one process). */
  fronts?: number;
  undici: string;
  clkTck: number;
  /** 1-minute load average when the benchmark started (a busy machine skews every figure). */
  loadAvg: number;
}

/** One benchmark run: what `--json` writes and `--before` reads. */
export interface BenchFile {
  meta: Meta;
  config: Config;
  results: Partial<Record<ScenarioName, Medians>>;
  /** What scripts/bench-drain.ts printed, when it ran. */
  drain?: { claims: number; output: string } | { claims: number; failed: string };
}

/**
 * The JSON beside the report: the run it shows and the "before" it compared with, which the next
 * run compares with too unless given `--before`. `now` is absent only in a file migrated from
 * the Markdown's old embedded comment, which kept just the "before".
 */
export interface ResultFile {
  now?: BenchFile;
  before?: BenchFile;
}

/** Statuses that are not errors, per scenario. */
export const EXPECTED: Record<ScenarioName, string[]> = {
  burst: ["201", "409 sold-out"],
  "burst-10x": ["201", "409 sold-out"],
  saturate: ["201"],
  // A shard past its lease deadline answers 503 (a retry is safe): counted as an error here.
  "burst-10x-sharded": ["201", "409 sold-out"],
  "saturate-sharded": ["201"],
  "sold-out": ["409 sold-out"],
  "get-event": ["200"],
  "touch-nothing": ["200"],
  bare: ["200"],
};

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1
    ? (s[(n - 1) / 2] as number)
    : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

export function mediansOf(runs: RunResult[], clkTck: number, expected: string[]): Medians {
  const pick = (f: (r: RunResult) => number) => median(runs.map(f));
  const keys = new Set(runs.flatMap((r) => Object.keys(r.summary.statuses)));
  const statuses: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  for (const k of [...keys].sort()) {
    statuses[k] = pick((r) => r.summary.statuses[k] ?? 0);
    if (!expected.includes(k)) {
      unexpected[k] = runs.reduce((sum, r) => sum + (r.summary.statuses[k] ?? 0), 0);
    }
  }
  const perRequest = (ticks: (r: RunResult) => number) =>
    pick((r) => (ticks(r) * 1e6) / clkTck / Math.max(1, r.summary.requests));
  return {
    runs: runs.length,
    requests: pick((r) => r.summary.requests),
    reqPerSec: pick((r) => r.summary.requests / (r.summary.elapsedMs / 1000)),
    p50: pick((r) => r.summary.p50),
    p95: pick((r) => r.summary.p95),
    p99: pick((r) => r.summary.p99),
    max: pick((r) => r.summary.max),
    fromInstant: runs.every((r) => r.summary.fromInstant)
      ? {
          p50: pick((r) => r.summary.fromInstant?.p50 ?? 0),
          p99: pick((r) => r.summary.fromInstant?.p99 ?? 0),
          max: pick((r) => r.summary.fromInstant?.max ?? 0),
        }
      : undefined,
    workerdUsPerReq: perRequest((r) => r.summary.workerdTicks),
    frontUsPerReq: perRequest((r) => r.summary.frontTicks),
    objectsUsPerReq: perRequest((r) => r.summary.objectsTicks),
    objectsUsPerIssued: runs.every((r) => r.issued > 0)
      ? pick((r) => (r.summary.objectsTicks * 1e6) / clkTck / r.issued)
      : null,
    loadCpuPct: pick((r) => (100 * r.summary.loadCpuUs) / 1000 / r.summary.elapsedMs),
    otherCpuPct: pick((r) => (100 * r.summary.otherTicks * 1000) / clkTck / r.summary.elapsedMs),
    statuses,
    errorsPerRun: runs.map((r) => r.errors),
    issuedPerRun: runs.map((r) => r.issuedServer ?? r.issued),
    unexpected,
  };
}

export function emptyMedians(): Medians {
  return {
    runs: 0,
    requests: 0,
    reqPerSec: 0,
    p50: 0,
    p95: 0,
    p99: 0,
    max: 0,
    workerdUsPerReq: 0,
    frontUsPerReq: 0,
    objectsUsPerReq: 0,
    objectsUsPerIssued: null,
    loadCpuPct: 0,
    otherCpuPct: 0,
    statuses: {},
    errorsPerRun: [],
    issuedPerRun: [],
    unexpected: {},
  };
}

/** JSON.stringify replacer: figures to 0.01, enough for any column of the report. */
const rounded = (_key: string, value: unknown) =>
  typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 100) / 100 : value;

/**
 * Indented JSON with short arrays of figures on one line, as the repository's formatter (biome)
 * leaves them, so a written result file passes `biome check` as is.
 */
export function toJson(value: BenchFile | ResultFile): string {
  const text = JSON.stringify(value, rounded, 2);
  return `${text.replace(
    /^( *)(.*)\[\n((?:\s*[^\s[\]{},][^\n[\]{}]*,?\n)+)\s*\]/gm,
    (all, indent: string, head: string, body: string) => {
      const line = `${indent}${head}[${body
        .trim()
        .split(/,\n\s*/)
        .join(", ")}]`;
      return line.length <= 100 ? line : all;
    },
  )}\n`;
}

export function writeJson(path: string, value: BenchFile | ResultFile): void {
  writeFileSync(path, toJson(value));
}

/** The JSON file kept beside a Markdown report: BENCHMARKS.md → BENCHMARKS.json. */
export const resultFileOf = (markdown: string) => markdown.replace(/(\.md)?$/, ".json");

/**
 * The "before" to compare with: `--before` (a `--json` file, or a result file: its `now`), else
 * the one the report's result file kept.
 */
export function loadBefore(beforeFile: string | undefined, report: string): BenchFile | undefined {
  if (beforeFile !== undefined) {
    const value = JSON.parse(readFileSync(beforeFile, "utf8")) as BenchFile | ResultFile;
    const file = "meta" in value ? value : value.now;
    if (!file) throw new Error(`--before ${beforeFile}: no benchmark run in it`);
    return file;
  }
  const kept = resultFileOf(report);
  if (!existsSync(kept)) return undefined;
  return (JSON.parse(readFileSync(kept, "utf8")) as ResultFile).before;
}
