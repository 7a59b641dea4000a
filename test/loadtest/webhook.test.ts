import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "vitest";
import { checkInvariants, checkTargets } from "../../loadtest/checks.ts";
import { buildReport } from "../../loadtest/report.ts";
import { type CrowdPlan, planFor } from "../../loadtest/scenarios.ts";
import { postWebhook, type SlackMessage, slackMessage } from "../../loadtest/webhook.ts";
import { sinksOf, syntheticRun } from "./fixtures.ts";

const plan = planFor("weekly-100", { timeScale: 0.1 }) as CrowdPlan;

function report(breakMysql: boolean) {
  const run = syntheticRun(plan);
  const sinks = sinksOf(run);
  if (breakMysql && "rows" in sinks.mysql) sinks.mysql.rows.pop();
  return buildReport({
    plan,
    run,
    invariants: checkInvariants(plan, run, sinks),
    targets: checkTargets(plan, run),
    meta: {
      date: new Date().toISOString(),
      commit: "abc1234",
      target: "https://coupons.example",
      machine: "m",
      cores: 2,
      memGiB: 24,
      node: process.version,
    },
    runId: "r",
    connections: 1_000,
    requestTimeoutMs: 30_000,
    mysqlRows: null,
    kafkaRecords: null,
    strict: false,
  });
}

test("the summary is a Slack incoming-webhook message: text and blocks, failures named", () => {
  const ok = slackMessage(report(false), undefined, "reports/x");
  expect(ok.text).toMatch(/^Load test weekly-100: pass\n/);
  expect(ok.text).toContain("All 7 invariants hold");
  expect(ok.blocks[0]).toEqual({
    type: "header",
    text: { type: "plain_text", text: "Load test weekly-100: pass" },
  });
  const bad = slackMessage(report(true), report(false), "reports/y");
  expect(bad.text).toMatch(/^Load test weekly-100: FAIL\n/);
  expect(bad.text).toContain("*Invariants broken:*\n• every issued coupon in MySQL exactly once:");
  expect(bad.text).toContain("(previous ");
});

test("missed targets are listed apart from the invariants, which still hold", () => {
  const incident = planFor("incident", { users: 200, stock: 40, timeScale: 0.1 }) as CrowdPlan;
  const run = syntheticRun(incident, 10);
  const r = buildReport({
    plan: incident,
    run,
    invariants: checkInvariants(incident, run, sinksOf(run)),
    targets: checkTargets(incident, run),
    meta: { date: "", commit: "c", target: "t", machine: "m", cores: 2, memGiB: 24, node: "v24" },
    runId: "r",
    connections: 1_000,
    requestTimeoutMs: 30_000,
    mysqlRows: 40,
    kafkaRecords: 40,
    strict: false,
  });
  const text = slackMessage(r, undefined, "x").text;
  // Not a bare "pass": the headline names the misses (issue 22 item 4).
  expect(text).toMatch(/^Load test incident: invariants pass · 2 targets missed\n/);
  expect(text).toContain(
    "All 7 invariants hold.\n*Targets missed* (2/4 met):\n• claim p95 ≤ 100 ms:",
  );
});

test("it is posted as JSON; a refusing webhook is reported, not thrown", async () => {
  const received: SlackMessage[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      expect(req.headers["content-type"]).toBe("application/json");
      received.push(JSON.parse(body) as SlackMessage);
      res.writeHead(status).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  try {
    const message = slackMessage(report(false), undefined, "reports/x");
    expect(await postWebhook(url, message)).toBeUndefined();
    expect(received).toEqual([message]);
    status = 500;
    expect(await postWebhook(url, message)).toBe("the webhook answered 500");
  } finally {
    server.close();
  }
});
