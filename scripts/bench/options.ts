/** `npm run bench`'s command line: the scenarios chosen, their sizes, and where results go. */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { frontsFromEnv } from "../../local/worker.ts";

export const ROOT = resolve(import.meta.dirname, "..", "..");

export const SCENARIOS = [
  "burst",
  "burst-10x",
  "saturate",
  "burst-10x-sharded",
  "saturate-sharded",
  "sold-out",
  "get-event",
  "touch-nothing",
  "bare",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Config {
  runs: number;
  durationMs: number;
  connections: number;
  burstConnections: number;
  burst: { users: number; stock: number };
  burst10x: { users: number; stock: number };
  saturateStock: number;
  /** Shards of the sharded scenarios' events (docs/shards.md). */
  shards: number;
  /** Tokens minted per run of the fresh-user scenarios: the run stops early when they run out. */
  saturateMax: number;
  soldOutMax: number;
  plainMax: number;
  requestTimeoutMs: number;
  burstTimeoutMs: number;
  warmupMs: number;
  /** How long to wait, before each run, for workerd and the machine to be idle. */
  patienceMs: number;
}

export interface Options {
  config: Config;
  quick: boolean;
  selected: ScenarioName[];
  /** scripts/bench-drain.ts, run after the scenarios on a stack of its own. */
  withDrain: boolean;
  runtime: "current" | "pre";
  /** Front processes beside the objects' one (0: one process, as before the split). */
  fronts: number;
  /** The Markdown report to write (its JSON beside it), if any. */
  outFile: string | undefined;
  /** --json: this run's medians. */
  jsonFile: string | undefined;
  /** --before: a result JSON of another commit. */
  beforeFile: string | undefined;
  help: boolean;
  /** What was typed after `npm run bench --`, for the report's first line. */
  argv: string[];
}

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};

export function parseOptions(argv: string[]): Options {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string" },
      only: { type: "string" },
      quick: { type: "boolean", default: false },
      duration: { type: "string" },
      connections: { type: "string" },
      "burst-connections": { type: "string" },
      out: { type: "string" },
      "no-write": { type: "boolean", default: false },
      drain: { type: "boolean", default: false },
      json: { type: "string" },
      before: { type: "string" },
      patience: { type: "string" },
      workerd: { type: "string", default: "current" },
      fronts: { type: "string" },
      shards: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (args.workerd !== "pre" && args.workerd !== "current") {
    throw new Error("--workerd: current (what wrangler brings) or pre (1.20261013.1)");
  }
  const quick = args.quick === true;
  const only = args.only?.split(",").map((s) => s.trim()) ?? [...SCENARIOS];
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name) && name !== "drain") {
      throw new Error(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(", ")}, drain)`);
    }
  }
  const selected = SCENARIOS.filter((s) => only.includes(s));
  const fullRun = selected.length === SCENARIOS.length && !quick;
  const config: Config = {
    runs: Math.floor(positive("runs", args.runs, quick ? 1 : 3)),
    durationMs: positive("duration", args.duration, quick ? 2 : 10) * 1000,
    connections: Math.floor(positive("connections", args.connections, 64)),
    burstConnections: Math.floor(positive("burst-connections", args["burst-connections"], 1000)),
    burst: quick ? { users: 250, stock: 50 } : { users: 2_500, stock: 500 },
    burst10x: quick ? { users: 2_500, stock: 500 } : { users: 25_000, stock: 5_000 },
    saturateStock: 10_000_000,
    shards: Math.min(64, Math.max(2, Math.floor(positive("shards", args.shards, 4)))),
    saturateMax: quick ? 10_000 : 40_000,
    soldOutMax: quick ? 20_000 : 100_000,
    plainMax: 1_000_000,
    requestTimeoutMs: 30_000,
    burstTimeoutMs: 60_000,
    warmupMs: quick ? 500 : 1_000,
    patienceMs: positive("patience", args.patience, 3) * 1000,
  };
  return {
    config,
    quick,
    selected,
    withDrain: only.includes("drain") || args.drain === true,
    runtime: args.workerd,
    fronts: frontsFromEnv(args.fronts === undefined ? process.env : { FRONTS: args.fronts }),
    outFile:
      args["no-write"] === true
        ? undefined
        : args.out !== undefined
          ? resolve(args.out)
          : fullRun
            ? join(ROOT, "BENCHMARKS.md")
            : undefined,
    jsonFile: args.json,
    beforeFile: args.before,
    help: args.help === true,
    argv,
  };
}
