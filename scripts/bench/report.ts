/**
 * BENCHMARKS.md: the Markdown report of a run (and of the "before" it compares with), keeping the
 * sections other scripts wrote (Drain when this run has no drain figures, Soak and Capacity model
 * always).
 */
import { basename } from "node:path";
import { sectionOf } from "../benchmarks-file.ts";
import { fmtInt, fmtMs, fmtStatuses } from "./format.ts";
import { type Config, SCENARIOS, type ScenarioName } from "./options.ts";
import { type BenchFile, type Medians, type Meta, resultFileOf } from "./result.ts";
import { ok, targetsTable } from "./targets.ts";

const DESCRIPTION: Record<ScenarioName, (c: Config) => string> = {
  burst: (c) =>
    `${fmtInt(c.burst.users)} users claim at one instant (${fmtInt(Math.min(c.burstConnections, c.burst.users))} connections), ${fmtInt(c.burst.stock)} coupons`,
  "burst-10x": (c) =>
    `${fmtInt(c.burst10x.users)} users claim at one instant (${fmtInt(Math.min(c.burstConnections, c.burst10x.users))} connections), ${fmtInt(c.burst10x.stock)} coupons`,
  saturate: (c) => `claims, ${c.connections} connections, a fresh user each, huge stock`,
  "burst-10x-sharded": (c) =>
    `burst-10x on an event of ${c.shards} shards (every shard in the one local objects process)`,
  "saturate-sharded": (c) => `saturate on an event of ${c.shards} shards`,
  "sold-out": (c) => `claims on a sold-out event, ${c.connections} connections, fresh users`,
  "get-event": (c) => `GET /v1/events/{id}, ${c.connections} connections`,
  "touch-nothing": (c) => `GET /problems/sold-out, ${c.connections} connections`,
  bare: (c) => `one-line Worker, same workerd, ${c.connections} connections`,
};

function fmtPerProcess(r: Medians): { front: string; objects: string } {
  if (r.frontUsPerReq === undefined || r.objectsUsPerReq === undefined) {
    return { front: "—", objects: "—" };
  }
  const issued =
    r.objectsUsPerIssued === null || r.objectsUsPerIssued === undefined
      ? ""
      : ` · ${fmtInt(r.objectsUsPerIssued)}`;
  return {
    front: r.frontUsPerReq === 0 ? "(one process)" : fmtInt(r.frontUsPerReq),
    objects: `${fmtInt(r.objectsUsPerReq)}${issued}`,
  };
}

/** A warning when other processes competed for the cores during some scenario. */
function disturbed(file: BenchFile): string {
  const busy = SCENARIOS.filter((n) => (file.results[n]?.otherCpuPct ?? 0) > 20);
  if (busy.length === 0) return "";
  const list = busy.map((n) => `${n} ${Math.round(file.results[n]?.otherCpuPct ?? 0)}%`).join(", ");
  return `\n\n**Disturbed:** other processes used a large share of a core during ${list} (median of runs); those figures understate the service: rerun on a quiet machine.`;
}

function resultsTable(file: BenchFile): string {
  const results = file.results;
  const rows = [
    "| scenario | load | req/s | p50 | p95 | p99 | max | from the instant: p50 / p99 / max | answers (median of runs) | errors per run | workerd CPU µs/req | front µs/req | objects µs/req · per issued | load thread CPU | other CPU |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of SCENARIOS) {
    const r = results[name];
    if (!r) continue;
    if (r.failed) {
      rows.push(
        `| ${name} | ${DESCRIPTION[name](file.config)} | failed: ${r.failed.split("\n")[0]} | | | | | | | | | | | | |`,
      );
      continue;
    }
    const fi = r.fromInstant
      ? `${fmtMs(r.fromInstant.p50)} / ${fmtMs(r.fromInstant.p99)} / ${fmtMs(r.fromInstant.max)}`
      : "—";
    const unexpected = Object.keys(r.unexpected).length
      ? ` (not expected, all runs: ${fmtStatuses(r.unexpected)})`
      : "";
    rows.push(
      `| ${name} | ${DESCRIPTION[name](file.config)} | ${fmtInt(r.reqPerSec)} | ${fmtMs(r.p50)} | ${fmtMs(r.p95)} | ${fmtMs(r.p99)} | ${fmtMs(r.max)} | ${fi} | ${fmtStatuses(r.statuses)} | ${r.errorsPerRun.join(" / ")}${unexpected} | ${fmtInt(r.workerdUsPerReq)} | ${fmtPerProcess(r).front} | ${fmtPerProcess(r).objects} | ${r.loadCpuPct.toFixed(0)}% | ${(r.otherCpuPct ?? 0).toFixed(0)}% |`,
    );
  }
  return rows.join("\n");
}

function beforeTable(before: BenchFile, now: BenchFile): string {
  const rows = [
    `| scenario | req/s before → now | p50 | p95 | p99 | max | workerd CPU µs/req |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of SCENARIOS) {
    const b = before.results[name];
    const n = now.results[name];
    if (!ok(b) || !ok(n)) continue;
    const pair = (f: (m: Medians) => string) => `${f(b)} → ${f(n)}`;
    rows.push(
      `| ${name} | ${pair((m) => fmtInt(m.reqPerSec))} | ${pair((m) => fmtMs(m.p50))} | ${pair((m) => fmtMs(m.p95))} | ${pair((m) => fmtMs(m.p99))} | ${pair((m) => fmtMs(m.max))} | ${pair((m) => fmtInt(m.workerdUsPerReq))} |`,
    );
  }
  return rows.join("\n");
}

/** JSON.stringify replacer: figures to 0.01, enough for any column of the report. */
function previousDrain(path: string | undefined): string | undefined {
  const body = sectionOf(path, "Drain");
  return body?.includes("```") ? body : undefined;
}

/** `npm run soak` writes its section itself; a bench run keeps it. */
function soakSection(path: string | undefined): string {
  return (
    sectionOf(path, "Soak") ??
    "`npm run soak` (scripts/soak.ts) measures each isolate's JS heap under a crowd of distinct users and writes its figures here."
  );
}

/** The capacity model's table (docs/shards.md), written by hand from `npm run capacity`: kept. */
function capacitySection(path: string | undefined): string {
  return (
    sectionOf(path, "Capacity model") ??
    "`npm run capacity` (scripts/capacity.ts) simulates one event at Cloudflare scale for 1/4/16/64 shards; its table goes here."
  );
}

function drainSection(file: BenchFile, previous: string | undefined, argv: string[]): string {
  const d = file.drain;
  const what =
    "`npm run bench:drain` (scripts/bench-drain.ts) measures how fast the outbox reaches MySQL and Kafka, live and after an outage of both sinks";
  if (!d) return previous ?? `${what}; \`npm run bench -- --drain\` runs it too.`;
  if ("failed" in d) return `${what}. It failed this time:\n\n\`\`\`\n${d.failed}\n\`\`\``;
  return `${what}. Run by \`${command(argv)}\` on ${file.meta.date.slice(0, 10)} at ${file.meta.commit}, after the scenarios (its own stack, ${fmtInt(d.claims)} claims, one run):\n\n\`\`\`\n${d.output}\n\`\`\``;
}

function command(argv: string[]): string {
  const extra = argv.join(" ");
  return extra ? `npm run bench -- ${extra}` : "npm run bench";
}

function layoutOf(m: Meta): string {
  if (m.fronts === undefined || m.fronts === 0) {
    return "one workerd process (front and objects as two services)";
  }
  const plural = m.fronts === 1 ? "" : "es";
  return `FRONTS=${m.fronts}: ${m.fronts} front process${plural} sharing the port, the objects in a process of their own`;
}

export interface ReportOptions {
  /** The file about to be overwritten: its Drain and Soak sections are kept. */
  outFile: string | undefined;
  /** What followed `npm run bench --`. */
  argv: string[];
  seconds: number;
}

export function report(
  now: BenchFile,
  before: BenchFile | undefined,
  { outFile, argv, seconds }: ReportOptions,
): string {
  const m = now.meta;
  const c = now.config;
  const parts = [
    `# Benchmarks

Generated by \`${command(argv)}\` (scripts/bench.ts) in ${Math.round(seconds)} s. Every figure is the
median of ${c.runs} run${c.runs === 1 ? "" : "s"}, each on a fresh event; the service code changes, so rerun it rather than trusting old
figures, and compare ratios measured in one run rather than absolute figures across machines.${
      outFile
        ? `\nThe same figures, and before's, are data in \`${basename(resultFileOf(outFile))}\` beside this file.`
        : ""
    }

| | |
| --- | --- |
| date | ${m.date} |
| commit | ${m.commit} |
| machine | ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; load average ${m.loadAvg.toFixed(2)} at the start |
| Node | ${m.node} (load generator and local gateway), undici ${m.undici} |
| workerd | ${m.workerd} (\`workerd serve\`) |
| layout | ${layoutOf(m)} |

## Results

${resultsTable(now)}${disturbed(now)}

## Targets

${targetsTable(now, before)}`,
  ];
  if (before) {
    parts.push(`## Before and now

"Before" is commit ${before.meta.commit}, measured by this same script on ${before.meta.date.slice(0, 10)}
(${before.meta.cpu}, ${before.meta.cores} cores, workerd ${before.meta.workerd}, median of ${before.config.runs} run${before.config.runs === 1 ? "" : "s"}).

${beforeTable(before, now)}

Before, all scenarios:

${resultsTable(before)}${disturbed(before)}`);
  }
  parts.push(`## Method

- The stack is the one \`npm start\` runs: the local cloud (MariaDB, Redis and the HTTP gateway
  standing in for PlanetScale, Upstash Redis and Kafka) and \`workerd serve\` with the bundle: by
  default the objects in one process and \`FRONTS\` front processes sharing the port (docs/architecture.md, "How
  it runs"; \`--fronts 0\` serves front and objects as two services of one process), with every
  binding \`npm start\` passes
  (\`local/worker-bindings.ts\`: sinks on, the outbox drain on, the local per-address rate budget)
  except \`JWT_SECRET\`/\`ADMIN_TOKEN\`, which are random per run. The front process(es) also
  serve a bare Worker (\`export default { fetch() { return new Response('ok') } }\`) on a socket of
  its own (\`startWorker({ bareWorkerPort })\`): the ceiling.
- Load: undici ${m.undici} \`Pool\`s in a Node worker thread of their own (the gateway runs in the main
  thread), to 127.0.0.1 only, HTTP/1.1 keep-alive, no pipelining. Connections are opened (one
  \`GET /problems/sold-out\` each) before the timed part. User tokens are minted with \`sign\` from
  \`hono/jwt\` (HS256) before the timed part; every claim comes from a user never seen before.
- Bursts: all ${fmtInt(c.burst.users)} (or ${fmtInt(c.burst10x.users)}) claims are handed to one undici pool of
  ${fmtInt(c.burstConnections)} connections, opened beforehand, in one synchronous loop: ${fmtInt(c.burstConnections)} users are in flight at once and the
  rest wait for a free connection, in order (one process cannot hold 25,000 sockets here:
  \`ulimit -n\` is 20,000; \`--burst-connections\` changes it). Two latencies per user: p50/p95/p99/max
  run from the moment its request is written to a connection to the end of its answer (what the
  service takes with ${fmtInt(c.burstConnections)} users in flight; the targets are checked on these), and "from the
  instant" from the common start, including the wait for a connection (what the last user in the
  crowd waits: at best users / throughput). A burst passes only if every run issues exactly the
  stock (201 count, and the event's \`issued\` read back) with no other answer than 201 and 409
  \`sold-out\`.
- Timed scenarios: ${c.connections} closed loops (one per connection) for ${c.durationMs / 1000} s, or until the tokens
  minted for the run are used up (saturate ${fmtInt(c.saturateMax)}, sold-out ${fmtInt(c.soldOutMax)}); a 1 s warm-up of the
  same shape precedes the first run of every scenario.
- Errors: any answer other than the scenario's expected ones (201 and 409 \`sold-out\` in a burst,
  201 when saturating, 409 \`sold-out\` on the sold-out event, 200 elsewhere), and any transport
  error or timeout (${c.requestTimeoutMs / 1000} s per request).
- workerd CPU: utime + stime of every workerd process (all threads) from \`/proc/<pid>/stat\` at
  the start and end of the load, over the requests made (CLK_TCK ${m.clkTck}: ${Math.round(1000 / m.clkTck)} ms resolution); "front"
  is the front processes' share per request, "objects" the objects' process's per request and per
  issued claim (201). Drain work that happens during the load is included (it runs in the
  objects' process); the script waits for each event's outbox to empty and for workerd to go
  idle before the next run.
- "load thread CPU" is the load generator's own thread, as a share of one core: near 100% means
  the figure is the client's limit, not the service's (the machine has ${m.cores} cores for both).
  "other CPU" is the machine's busy time (\`/proc/stat\`) minus workerd, mariadbd, redis-server and
  the benchmark's own process, as a share of one core: kernel time not charged to a process, and
  anything else running on the machine. Well above a few percent, the run was disturbed: rerun it
  on a quiet machine.

## Drain

${drainSection(now, previousDrain(outFile), argv)}

## Soak

${soakSection(outFile)}

## Capacity model

${capacitySection(outFile)}
`);
  return `${parts.join("\n\n")}\n`;
}
