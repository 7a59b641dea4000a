/**
 * `npm run bench`: the service under load, every feature on (auth, rate limits, the outbox drain
 * to MySQL and Kafka), on the real local stack: the local cloud (MariaDB, Redis, the HTTP gateway)
 * and `workerd serve` with the bundle as two services, exactly as `npm start` runs them, plus a
 * bare one-line Worker in the same workerd process as the ceiling. Load comes from undici in a
 * worker thread (scripts/bench-load.ts, on loadtest/http.ts) over loopback. See BENCHMARKS.md for
 * the method; the parts are in scripts/bench/ (options, stack, scenarios, result, report, targets).
 *
 *   npm run bench                       every scenario, 3 runs each, writes BENCHMARKS.md and
 *                                       BENCHMARKS.json (the same figures, and before's, as data)
 *   npm run bench -- --only burst,bare  some scenarios (BENCHMARKS.md untouched unless --out)
 *   npm run bench -- --quick            a smoke run with small numbers
 *
 *   npm run bench -- --drain            also scripts/bench-drain.ts (`npm run bench:drain`, its
 *                                       own stack) afterwards; without it, BENCHMARKS.md keeps the
 *                                       drain figures of the last run that had them
 *
 * Options: --runs N (3), --only a,b (scenario names, and `drain`), --drain, --quick,
 * --duration S (10), --connections N (64), --burst-connections N (1000), --patience S (3: the
 * longest wait, before each run, for an idle machine), --out FILE (its .json beside it),
 * --no-write, --json FILE (this run's medians), --before FILE (a --json file, or a BENCHMARKS.json,
 * of another commit: the "before" column; by default the "before" kept in the .json beside the
 * report), --workerd current|pre (the release that serves it: wrangler's, or 1.20261013.1, the
 * last before the HTTP front end's regression), --fronts N (front processes; FRONTS otherwise),
 * --shards N (4: the shards of burst-10x-sharded and saturate-sharded's events).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killDrain, runDrain } from "./bench/drain.ts";
import { fmtInt, fmtMs, fmtStatuses } from "./bench/format.ts";
import { log } from "./bench/log.ts";
import { meta } from "./bench/machine.ts";
import { type Options, parseOptions, ROOT } from "./bench/options.ts";
import { report } from "./bench/report.ts";
import {
  type BenchFile,
  EXPECTED,
  emptyMedians,
  loadBefore,
  mediansOf,
  type RunResult,
  resultFileOf,
  writeJson,
} from "./bench/result.ts";
import { Scenarios } from "./bench/scenarios.ts";
import { Rig } from "./bench/stack.ts";

let rig: Rig | undefined;
let stopping: Promise<void> | undefined;

function stopRig(): Promise<void> {
  stopping ??= (async () => {
    killDrain("SIGTERM");
    await rig?.stop();
    rig = undefined;
  })();
  return stopping;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the stack…`);
    void stopRig().finally(() => process.exit(130));
  });
}

async function measure(
  opts: Options,
  m: BenchFile["meta"],
): Promise<{ results: BenchFile["results"]; failures: number }> {
  const results: BenchFile["results"] = {};
  let failures = 0;
  if (opts.selected.length === 0) return { results, failures };
  rig = await Rig.start(opts.runtime, opts.fronts);
  const scenarios = new Scenarios(rig, opts.config);
  for (const name of opts.selected) {
    const runs: RunResult[] = [];
    try {
      log(`${name}: warm-up`);
      await scenarios.runOnce(name, true, m.clkTck);
      for (let i = 1; i <= opts.config.runs; i++) {
        const r = await scenarios.runOnce(name, false, m.clkTck);
        runs.push(r);
        const s = r.summary;
        const us = (ticks: number) => fmtInt((ticks * 1e6) / m.clkTck / Math.max(1, s.requests));
        log(
          `${name} run ${i}: ${fmtInt(s.requests / (s.elapsedMs / 1000))} req/s, p50 ${fmtMs(s.p50)} p95 ${fmtMs(s.p95)} p99 ${fmtMs(s.p99)} max ${fmtMs(s.max)}, ${fmtStatuses(s.statuses)}, workerd ${us(s.workerdTicks)} µs/req (front ${us(s.frontTicks)}, objects ${us(s.objectsTicks)})${r.issuedServer !== undefined ? `, event issued ${r.issuedServer}` : ""}`,
        );
      }
      results[name] = mediansOf(runs, m.clkTck, EXPECTED[name]);
    } catch (err) {
      failures++;
      const message = err instanceof Error ? err.message : String(err);
      log(`${name}: FAILED: ${message}`);
      results[name] = {
        ...(runs.length ? mediansOf(runs, m.clkTck, EXPECTED[name]) : emptyMedians()),
        failed: message,
      };
    }
  }
  await stopRig();
  stopping = undefined;
  return { results, failures };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]);
    return;
  }
  const started = performance.now();
  const m = meta(opts.runtime, opts.fronts);
  log(
    `bench: ${opts.selected.join(", ")}; ${opts.config.runs} run(s) each; ${m.cpu}, ${m.cores} cores; workerd ${m.workerd}, FRONTS=${m.fronts}; ${m.commit}`,
  );
  const measured = await measure(opts, m);
  const results = measured.results;
  let failures = measured.failures;

  let drain: BenchFile["drain"];
  if (opts.withDrain) {
    const claims = opts.quick ? 2_000 : 10_000;
    log(`drain: scripts/bench-drain.ts with ${fmtInt(claims)} claims (its own stack)`);
    drain = await runDrain(claims);
    if ("failed" in drain) {
      failures++;
      log(`drain: FAILED: ${drain.failed}`);
    }
  }

  const now: BenchFile = { meta: m, config: opts.config, results, drain };
  const before = loadBefore(opts.beforeFile, opts.outFile ?? join(ROOT, "BENCHMARKS.md"));
  const text = report(now, before, {
    outFile: opts.outFile,
    argv: opts.argv,
    seconds: (performance.now() - started) / 1000,
  });
  console.log(text);
  if (opts.outFile) {
    writeFileSync(opts.outFile, text);
    writeJson(resultFileOf(opts.outFile), { now, before });
    log(`written to ${opts.outFile} and ${resultFileOf(opts.outFile)}`);
  }
  if (opts.jsonFile) {
    writeJson(opts.jsonFile, now);
    log(`medians written to ${opts.jsonFile}`);
  }
  if (failures > 0) {
    log(`${failures} scenario(s) failed`);
    process.exitCode = 1;
  }
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  await stopRig();
  process.exit(1);
});
