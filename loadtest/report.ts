/**
 * The run's report (`report.json`): every figure, summaries and the time series the page draws.
 * `buildReport` is pure (tested on synthetic runs); `writeReport` writes the folder.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { Check } from "./checks.ts";
import { answerKey, latencySummary, percentiles, type RequestRecord, serviceMs } from "./http.ts";
import { type RoomFigures, roomFigures } from "./room-checks.ts";
import type { Marker, RunData, Sample } from "./run.ts";
import type { Plan } from "./scenarios.ts";

export const REPORT_VERSION = 1;

export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface Meta {
  date: string;
  commit: string;
  target: string;
  machine: string;
  cores: number;
  memGiB: number;
  node: string;
  workerd?: string;
  undici?: string;
}

export interface Series {
  /** Bin starts, seconds from startsAt. */
  t: number[];
  binMs: number;
  claimLatency: {
    p50: (number | null)[];
    p95: (number | null)[];
    p99: (number | null)[];
    max: (number | null)[];
  };
  /** Answers completed per bin, by "kind status slug". */
  answers: Record<string, number[]>;
  /** The most visitors on the page, and requests in flight, during each bin. */
  visitorsInFlight: number[];
  requestsInFlight: number[];
}

export interface Report {
  version: number;
  scenario: string;
  description: string;
  runId: string;
  pass: boolean;
  meta: Meta;
  config: {
    users: number;
    stock: number;
    timeScale: number;
    connections: number;
    requestTimeoutMs: number;
    waves: { atMs: number; quantity: number }[];
  };
  event: { id: string; startsAt: string; issued: number | null; released: number | null };
  invariants: Check[];
  targets: Check[];
  summary: {
    visitors: number;
    requests: number;
    /** From the first arrival to the last answer. */
    loadSeconds: number;
    requestsPerSec: number;
    answers: Record<string, number>;
    outcomes: Record<string, number>;
    /** Request latencies (written to a connection → full answer), ms. */
    latency: Record<"claim" | "event" | "coupon" | "all", Latency>;
    /** Claims from the moment the user clicked, including any wait for a free connection. */
    claimFromClick: Latency;
    errors: number;
    fiveXx: number;
    shed: number;
    lastIssuedAt: number | null;
    drainedAt: number | null;
    drainMs: number | null;
    sinks: { mysqlDelivered: number | null; kafkaDelivered: number | null };
    mysqlRows: number | null;
    kafkaRecords: number | null;
  };
  machine: RunData["machine"] & {
    /** workerd CPU per request, µs (local stack). */
    workerdUsPerRequest?: number;
    /** Busy CPU of everything but workerd, the local cloud and the load generator, % of one core. */
    otherCpuPct?: number;
  };
  /** The waiting room's figures (waiting-room scenarios only). */
  room?: RoomFigures;
  series: Series;
  samples: Sample[];
  markers: Marker[];
}

const NICE_BINS = [50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000];

/** A bin width giving at most ~120 bins over `spanMs`. */
export function binWidth(spanMs: number): number {
  return NICE_BINS.find((b) => spanMs / b <= 120) ?? 10_000;
}

export function buildSeries(run: RunData): Series {
  const records = run.records;
  let start = run.loadStart;
  let end = run.loadEnd;
  for (const r of records) {
    if (r.queuedAt < start) start = r.queuedAt;
    if (r.endAt > end) end = r.endAt;
  }
  const binMs = binWidth(end - start);
  const first = Math.floor(start / binMs) * binMs;
  const n = Math.max(1, Math.ceil((end - first) / binMs));
  const bin = (t: number) => Math.min(n - 1, Math.max(0, Math.floor((t - first) / binMs)));
  const t = Array.from({ length: n }, (_, i) => (first + i * binMs) / 1000);

  const claimsPerBin: number[][] = Array.from({ length: n }, () => []);
  const answers: Record<string, number[]> = {};
  for (const r of records) {
    if (r.kind === "claim") (claimsPerBin[bin(r.sentAt)] as number[]).push(serviceMs(r));
    const key = answerKey(r);
    answers[key] ??= new Array<number>(n).fill(0);
    const counts = answers[key];
    counts[bin(r.endAt)] = (counts[bin(r.endAt)] ?? 0) + 1;
  }
  const lat = claimsPerBin.map((xs) => (xs.length ? percentiles(xs) : null));
  const pick = (f: "p50" | "p95" | "p99" | "max") => lat.map((p) => (p ? round(p[f]) : null));

  // The most in flight during each bin: a sweep over arrivals (+1) and departures (-1).
  const peakInFlight = (spans: [number, number][]) => {
    const ev: [number, number][] = [];
    for (const [a, b] of spans) {
      if (Number.isNaN(a)) continue;
      ev.push([a, 1], [Number.isNaN(b) ? Number.POSITIVE_INFINITY : b, -1]);
    }
    ev.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const out = new Array<number>(n).fill(0);
    let cur = 0;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const binEnd = first + (i + 1) * binMs;
      let peak = cur;
      for (; j < ev.length && (ev[j] as [number, number])[0] < binEnd; j++) {
        cur += (ev[j] as [number, number])[1];
        peak = Math.max(peak, cur);
      }
      out[i] = peak;
    }
    return out;
  };
  return {
    t,
    binMs,
    claimLatency: { p50: pick("p50"), p95: pick("p95"), p99: pick("p99"), max: pick("max") },
    answers: Object.fromEntries(Object.entries(answers).sort(([a], [b]) => a.localeCompare(b))),
    visitorsInFlight: peakInFlight(run.visitors.map((v) => [v.arriveAt, v.leaveAt])),
    requestsInFlight: peakInFlight(records.map((r) => [r.queuedAt, r.endAt])),
  };
}

const round = (x: number) => Math.round(x * 10) / 10;

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export interface ReportInput {
  plan: Plan;
  run: RunData;
  invariants: Check[];
  targets: Check[];
  meta: Meta;
  runId: string;
  connections: number;
  requestTimeoutMs: number;
  mysqlRows: number | null;
  kafkaRecords: number | null;
  /** Targets count towards `pass` (--strict). */
  strict: boolean;
}

/**
 * The one-line verdict every output leads with. "pass" alone only when the targets are met too:
 * a run whose invariants hold but whose targets are missed says so, in a warning tone, so green
 * never hides a miss (targets fail the run only with --strict).
 */
export function headline(r: Pick<Report, "pass" | "targets">): {
  text: string;
  tone: "pass" | "warn" | "fail";
} {
  const missed = r.targets.filter((c) => c.verdict === "fail").length;
  const misses = `${missed} target${missed === 1 ? "" : "s"} missed`;
  if (!r.pass) return { text: missed ? `FAIL · ${misses}` : "FAIL", tone: "fail" };
  return missed
    ? { text: `invariants pass · ${misses}`, tone: "warn" }
    : { text: "pass", tone: "pass" };
}

export function buildReport(i: ReportInput): Report {
  const { plan, run } = i;
  const by = (k: RequestRecord["kind"]) => run.records.filter((r) => r.kind === k).map(serviceMs);
  const claims = run.records.filter((r) => r.kind === "claim");
  const loadSeconds = Math.max(0.001, (run.loadEnd - run.loadStart) / 1000);
  const lastSample = run.samples.at(-1);
  const m = run.machine;
  const requests = run.records.length;
  const failed = [...i.invariants, ...(i.strict ? i.targets : [])].some(
    (c) => c.verdict === "fail",
  );
  return {
    version: REPORT_VERSION,
    scenario: plan.name,
    description: plan.description,
    runId: i.runId,
    pass: !failed,
    meta: i.meta,
    config: {
      users: plan.users,
      stock: plan.stock,
      timeScale: plan.timeScale,
      connections: i.connections,
      requestTimeoutMs: i.requestTimeoutMs,
      waves: plan.waves,
    },
    event: {
      id: run.eventId,
      startsAt: run.startsAt,
      issued: run.eventAfter?.issued ?? null,
      released: run.eventAfter?.released ?? null,
    },
    invariants: i.invariants,
    targets: i.targets,
    summary: {
      visitors: run.visitors.length,
      requests,
      loadSeconds: round(loadSeconds),
      requestsPerSec: Math.round(requests / loadSeconds),
      answers: countBy(run.records, answerKey),
      outcomes: countBy(run.visitors, (v) => v.outcome || "no claim"),
      latency: {
        claim: latencySummary(by("claim")),
        event: latencySummary(by("event")),
        coupon: latencySummary(by("coupon")),
        all: latencySummary(run.records.map(serviceMs)),
      },
      claimFromClick: latencySummary(claims.map((r) => r.endAt - r.queuedAt)),
      errors: run.records.filter((r) => r.status === 0).length,
      fiveXx: run.records.filter((r) => r.status >= 500).length,
      shed: run.records.filter((r) => r.status === 429 || r.status === 503).length,
      lastIssuedAt: run.lastIssuedAt === null ? null : round(run.lastIssuedAt),
      drainedAt: run.drain.drainedAt === null ? null : round(run.drain.drainedAt),
      drainMs:
        run.drain.drainedAt === null
          ? null
          : round(Math.max(0, run.drain.drainedAt - (run.lastIssuedAt ?? run.drain.drainedAt))),
      sinks: {
        mysqlDelivered: lastSample?.mysqlDelivered ?? null,
        kafkaDelivered: lastSample?.kafkaDelivered ?? null,
      },
      mysqlRows: i.mysqlRows,
      kafkaRecords: i.kafkaRecords,
    },
    machine: {
      ...m,
      ...(m.workerdCpuMs !== undefined
        ? {
            workerdUsPerRequest: Math.round((m.workerdCpuMs * 1000) / Math.max(1, requests)),
            otherCpuPct: Math.max(
              0,
              Math.round(
                (100 *
                  ((m.machineBusyMs ?? 0) -
                    m.workerdCpuMs -
                    (m.cloudCpuMs ?? 0) -
                    m.loadGeneratorCpuMs)) /
                  Math.max(1, m.wallMs),
              ),
            ),
          }
        : {}),
    },
    ...(plan.kind === "room" ? { room: roomFigures(run) } : {}),
    series: buildSeries(run),
    samples: run.samples.map((s) => ({ ...s, t: round(s.t) })),
    markers: run.markers.map((x) => ({ ...x, t: round(x.t) })),
  };
}

/** Facts about the machine and the code, for the report's header. */
export function collectMeta(root: string, target: string, workerdPackage = "workerd"): Meta {
  let commit = "unknown";
  try {
    const git = (...a: string[]) =>
      execFileSync("git", a, {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    commit = git("rev-parse", "--short", "HEAD");
    if (
      git("status", "--porcelain", "--untracked-files=no", "--", "src", "durable-objects") !== ""
    ) {
      commit += " + uncommitted changes";
    }
  } catch {
    // not a git checkout
  }
  const version = (name: string) => {
    try {
      return (
        JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as {
          version: string;
        }
      ).version;
    } catch {
      return undefined;
    }
  };
  return {
    date: new Date().toISOString(),
    commit,
    target,
    machine: cpus()[0]?.model.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    workerd: version(workerdPackage),
    undici: version("undici"),
  };
}

/**
 * The newest earlier report of `scenario` under `dir` (folders `<timestamp>-<scenario>`): one
 * with the same users, stock, time scale and target when there is one (a scaled-down smoke run
 * is no baseline for the full crowd), else the newest of the scenario.
 */
export function previousReport(
  dir: string,
  scenario: string,
  except?: string,
  like?: Pick<Report, "config" | "meta">,
): Report | undefined {
  if (!existsSync(dir)) return undefined;
  const folders = readdirSync(dir)
    .filter((f) => f.endsWith(`-${scenario}`) && f !== except)
    .filter((f) => /^\d{4}-\d\d-\d\dT/.test(f))
    .sort()
    .reverse();
  const reports: Report[] = [];
  for (const f of folders) {
    const file = join(dir, f, "report.json");
    if (!existsSync(file)) continue;
    try {
      const r = JSON.parse(readFileSync(file, "utf8")) as Report;
      if (r.version === REPORT_VERSION && r.scenario === scenario) reports.push(r);
    } catch {
      // unreadable: skip
    }
  }
  const same = (r: Report) =>
    like !== undefined &&
    r.config.users === like.config.users &&
    r.config.stock === like.config.stock &&
    r.config.timeScale === like.config.timeScale &&
    r.meta.target === like.meta.target;
  return reports.find(same) ?? reports[0];
}

/** `2026-12-02T05-30-12Z`: sortable, and a valid folder name everywhere. */
export function folderStamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replaceAll(":", "-");
}
