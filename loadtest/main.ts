/**
 * `npm run loadtest -- --scenario <name> [options]`: a user-level load test of the coupon service
 * with its invariants checked from outside and a report in `reports/<timestamp>-<scenario>/`
 * (report.json, a self-contained report.html, report.png). See docs/load-tests-and-benchmarks.md, "Load tests".
 *
 * Scenarios: incident, burst, burst-10x, weekly-100, weekly-200, weekly-500, waves, sink-outage,
 * saturate, waiting-room-10x.
 *
 * Target: a local stack of its own by default (started and stopped here, on free ports, in
 * .local/loadtest-<pid>/); a deployed Worker with --url, which then needs only tokens.
 *
 * Options:
 *   --users N --stock N       the crowd and the coupons (each scenario has its defaults)
 *   --time-scale X            multiplies the scenario's times (ramp, polls, waves); e.g. 0.05
 *   --concurrency N           saturate: claims in flight (64)
 *   --duration S              saturate: seconds (10)
 *   --connections N           most keep-alive connections of the load (1000)
 *   --timeout S               per request (30)
 *   --url URL                 a deployed Worker instead of the local stack
 *   --admin-token T           with --url (or LOADTEST_ADMIN_TOKEN)
 *   --jwt-secret S            with --url: HS256 user tokens (or LOADTEST_JWT_SECRET)
 *   --token-file F            with --url: user tokens, one JWT a line
 *   --mysql-url URL           with --url: mysql:// URL to check the rows (or LOADTEST_MYSQL_URL)
 *   --kafka-url URL           with --url: Kafka REST v2 base URL with user:password (or LOADTEST_KAFKA_URL)
 *   --kafka-topic NAME        (coupon-events)
 *   --reports DIR             where run folders go (reports)
 *   --no-png                  skip report.png
 *   --workerd current|pre     the local stack's workerd: the current release (default) or
 *                             1.20261013.1, the last before the HTTP front end's regression
 *   --no-warmup               skip the warm-up crowd (on by default against the local stack,
 *                             whose fresh workerd has compiled nothing yet)
 *   --strict                  a missed target fails the run too (invariants always do)
 * Environment: REPORT_WEBHOOK_URL posts a Slack-compatible summary.
 *
 * Exit code: 0 when every invariant holds (and, with --strict, every target), 1 otherwise,
 * 2 for a usage error.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureChromium, renderPng } from "./browser.ts";
import { type Check, checkInvariants, checkTargets, type SinkReads } from "./checks.ts";
import { helpText } from "./help.ts";
import { renderHtml } from "./html.ts";
import {
  buildReport,
  collectMeta,
  folderStamp,
  headline,
  previousReport,
  type Report,
} from "./report.ts";
import { roomLines } from "./room-report.ts";
import { runScenario } from "./run.ts";
import { isScenarioName, type Plan, planFor, SCENARIO_NAMES } from "./scenarios.ts";
import { kafkaRecords, mysqlRows } from "./sinks.ts";
import { localTarget, ROOT, remoteTarget, type Target } from "./target.ts";
import { postWebhook, slackMessage } from "./webhook.ts";

const T0 = performance.now();
const log = (line: string) =>
  console.error(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)} s] ${line}`);

function usage(message?: string): never {
  if (message) console.error(`loadtest: ${message}`);
  console.error(
    `usage: npm run loadtest -- --scenario <${SCENARIO_NAMES.join("|")}> [--url <base>] [--users N] [--stock N] [--time-scale X] ... (--help)`,
  );
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        scenario: { type: "string" },
        url: { type: "string" },
        users: { type: "string" },
        stock: { type: "string" },
        "time-scale": { type: "string" },
        concurrency: { type: "string" },
        duration: { type: "string" },
        connections: { type: "string" },
        timeout: { type: "string" },
        "admin-token": { type: "string" },
        "jwt-secret": { type: "string" },
        "token-file": { type: "string" },
        "mysql-url": { type: "string" },
        "kafka-url": { type: "string" },
        "kafka-topic": { type: "string" },
        reports: { type: "string" },
        "no-png": { type: "boolean", default: false },
        "no-warmup": { type: "boolean", default: false },
        workerd: { type: "string" },
        strict: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
})();

if (args.help) {
  console.log(helpText(readFileSync(new URL(import.meta.url), "utf8")));
  process.exit(0);
}

const num = (name: string, raw: string | undefined, integer = true): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    usage(`--${name} must be a positive ${integer ? "whole " : ""}number`);
  }
  return n;
};

const scenario = args.scenario ?? usage("--scenario is required");
if (!isScenarioName(scenario)) usage(`unknown scenario ${scenario}`);

let plan: Plan;
try {
  plan = planFor(scenario, {
    users: num("users", args.users),
    stock: num("stock", args.stock),
    timeScale: num("time-scale", args["time-scale"], false),
    concurrency: num("concurrency", args.concurrency),
    durationSec: num("duration", args.duration, false),
  });
} catch (err) {
  usage(err instanceof Error ? err.message : String(err));
}
if (plan.stock > 10_000_000) usage("--stock is at most 10,000,000 (the API's limit)");
if (args.url && plan.faults.length > 0) {
  usage(
    `${scenario} injects sink faults through the local gateway: it runs on the local stack only`,
  );
}
const runtime = args.workerd ?? "current";
if (runtime !== "current" && runtime !== "pre") usage("--workerd is current or pre");
const workerdRuntime: "current" | "pre" = runtime;
if (args.url && args.workerd) usage("--workerd chooses the local stack's runtime: not with --url");
const connections = num("connections", args.connections) ?? 1_000;
const requestTimeoutMs = (num("timeout", args.timeout, false) ?? 30) * 1000;
const reportsDir = resolve(args.reports ?? join(ROOT, "reports"));

// A deployed Worker needs its tokens: checked now, as a usage error.
let remote: Target | undefined;
if (args.url) {
  try {
    remote = remoteTarget({
      url: args.url,
      adminToken: args["admin-token"] ?? process.env.LOADTEST_ADMIN_TOKEN,
      jwtSecret: args["jwt-secret"] ?? process.env.LOADTEST_JWT_SECRET,
      tokenFile: args["token-file"],
    });
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
}

let target: Target | undefined;
let stopping: Promise<void> | undefined;
const stopTarget = () => {
  stopping ??= target?.stop() ?? Promise.resolve();
  return stopping;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping…`);
    void stopTarget().finally(() => process.exit(130));
  });
}

async function readSinks(eventId: string): Promise<SinkReads> {
  const local = target?.local;
  const mysqlUrl = args["mysql-url"] ?? process.env.LOADTEST_MYSQL_URL;
  const kafkaUrl = args["kafka-url"] ?? process.env.LOADTEST_KAFKA_URL;
  const topic = args["kafka-topic"] ?? "coupon-events";
  const reads: SinkReads = {
    mysql: { skipped: "no MySQL access: give --mysql-url (or LOADTEST_MYSQL_URL)" },
    kafka: { skipped: "no Kafka REST access: give --kafka-url (or LOADTEST_KAFKA_URL)" },
  };
  const mysqlSource = local?.stack.mysql ?? mysqlUrl;
  if (mysqlSource) {
    reads.mysql = await mysqlRows(mysqlSource, eventId).then(
      (rows) => ({ rows }),
      (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
    );
  }
  let kafka: { url: string; username: string; password: string } | undefined = local?.stack.kafka;
  if (!kafka && kafkaUrl) {
    const u = new URL(kafkaUrl);
    kafka = {
      url: `${u.origin}${u.pathname.replace(/\/+$/, "")}`,
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    };
  }
  if (kafka) {
    reads.kafka = await kafkaRecords({ ...kafka, topic }, eventId).then(
      (records) => ({ records }),
      (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
    );
  }
  return reads;
}

const line = (c: Check) =>
  `${c.verdict === "pass" ? "PASS" : c.verdict === "fail" ? "FAIL" : "SKIP"}  ${c.name}: ${c.detail}`;

async function main(): Promise<number> {
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  log(
    `loadtest ${plan.name}: ${plan.description}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" / ")}`,
  );
  target = remote ?? (await localTarget(log, workerdRuntime));
  const targetName = args.url
    ? args.url
    : `local stack (npm start's, own ports${runtime === "pre" ? ", workerd pre-regression" : ""})`;

  const run = await runScenario({
    plan,
    target,
    runId,
    connections,
    requestTimeoutMs,
    warmup: !args.url && args["no-warmup"] !== true,
    log,
  });
  log("reading MySQL and the Kafka topic…");
  const sinks = await readSinks(run.eventId);
  const invariants = checkInvariants(plan, run, sinks);
  const targets = checkTargets(plan, run);
  await stopTarget();

  const meta = collectMeta(
    ROOT,
    targetName,
    runtime === "pre" ? "workerd-1.20261013.1" : "workerd",
  );
  // The workerd in node_modules is what ran only on the local stack.
  if (args.url) delete meta.workerd;
  const folderName = `${folderStamp()}-${plan.name}`;
  const folder = join(reportsDir, folderName);
  mkdirSync(folder, { recursive: true });
  const report: Report = buildReport({
    plan,
    run,
    invariants,
    targets,
    meta,
    runId,
    connections: run.connections,
    requestTimeoutMs,
    mysqlRows: "rows" in sinks.mysql ? sinks.mysql.rows.length : null,
    kafkaRecords: "records" in sinks.kafka ? sinks.kafka.records.length : null,
    strict: args.strict === true,
  });
  const previous = previousReport(reportsDir, plan.name, folderName, report);
  writeFileSync(join(folder, "report.json"), `${JSON.stringify(report, null, 1)}\n`);
  const html = join(folder, "report.html");
  writeFileSync(html, renderHtml(report, previous));
  const shown = relative(process.cwd(), folder) || folder;
  if (args["no-png"] !== true) {
    const browser = ensureChromium(log);
    if ("path" in browser) {
      await renderPng(browser.path, html, join(folder, "report.png")).then(
        () => undefined,
        (err: unknown) =>
          log(`report.png not rendered: ${err instanceof Error ? err.message : err}`),
      );
    } else {
      log(`report.png skipped: ${browser.missing}`);
    }
  }

  const s = report.summary;
  const l = s.latency.claim;
  console.log(`
${plan.name}: ${headline(report).text}  (${plan.description})
  requests ${s.requests.toLocaleString("en-US")} in ${s.loadSeconds} s; claims p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms
  answers: ${Object.entries(s.answers)
    .map(([k, n]) => `${k}: ${n}`)
    .join(", ")}
${
  report.room
    ? `${roomLines(report.room)
        .map((x) => `  ${x}`)
        .join("\n")}\n`
    : ""
}  load average ${report.machine.loadAvgStart.map((x) => x.toFixed(2)).join(" / ")} at the start${report.machine.workerdUsPerRequest !== undefined ? `; workerd ${report.machine.workerdUsPerRequest} µs CPU per request` : ""}
${invariants.map((c) => `  ${line(c)}`).join("\n")}${targets.length ? `\n  targets${args.strict ? "" : " (reported; --strict makes them fail the run)"}:\n${targets.map((c) => `    ${line(c)}`).join("\n")}` : ""}
  report: ${shown}/report.html`);

  const webhook = process.env.REPORT_WEBHOOK_URL;
  if (webhook) {
    // In GitHub Actions, the run's page (where the reports are uploaded) rather than a path.
    const gh = process.env.GITHUB_RUN_ID
      ? `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}`
      : undefined;
    const failed = await postWebhook(webhook, slackMessage(report, previous, gh ?? shown));
    log(failed ?? "summary posted to REPORT_WEBHOOK_URL");
  }
  // One closing line in the plain "N passed, N failed" form that CI logs are read for.
  const count = (v: string) => invariants.filter((c) => c.verdict === v).length;
  const skipped = count("skipped");
  console.log(
    `invariants: ${count("pass")} passed, ${count("fail")} failed${skipped ? `, ${skipped} skipped` : ""}`,
  );
  return report.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await stopTarget().catch(() => undefined);
    process.exit(1);
  },
);
