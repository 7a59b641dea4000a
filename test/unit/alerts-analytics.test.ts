/**
 * The request alerts on Workers Analytics Engine: a local HTTP server stands in for the SQL API
 * (and the alert webhook). Checks the SQL sent, how its answer becomes the summary the rules read,
 * and that a failing SQL API is no verdict: nothing fires, nothing resolves. Injected clock.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../platform/config.ts";
import { servicesFor } from "../../platform/services.ts";
import type { AlertMessage } from "../../src/lib/alerts.ts";
import { evaluateAlerts } from "../../src/lib/alerts-run.ts";
import { type AnalyticsConfig, analyticsSummary } from "../../src/lib/analytics-sql.ts";
import { startBodyServer } from "./body-server.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TOKEN = "analytics-read-token-0123";
const T0 = Date.parse("2026-09-12T14:00:00.000Z");
const MINUTE = 60_000;
const CLAIMS = "/v1/events/{id}/claims";

interface SqlRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** What the stand-in SQL API answers next: a status and a body. */
let answer: { status: number; body: string } = { status: 200, body: "{}" };
let sqlRequests: SqlRequest[] = [];
let posted: AlertMessage[] = [];
let server: Awaited<ReturnType<typeof startBodyServer>>;
let base = "";

beforeAll(async () => {
  server = await startBodyServer((req, body, res) => {
    if (req.url === "/hook") {
      posted.push(JSON.parse(body) as AlertMessage);
      res.writeHead(200).end("ok");
      return;
    }
    sqlRequests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      authorization: req.headers.authorization,
      body,
    });
    res.writeHead(answer.status, { "Content-Type": "application/json" }).end(answer.body);
  });
  base = server.base;
});
afterAll(() => server.close());

let logged: string[] = [];
beforeEach(() => {
  sqlRequests = [];
  posted = [];
  logged = [];
  vi.spyOn(console, "error").mockImplementation((line: unknown) => {
    logged.push(String(line));
  });
  return () => vi.restoreAllMocks();
});

/** The Worker's bindings with the SQL API pointed at the stand-in. */
const bindings = (extra: Record<string, string> = {}) => ({
  JWT_SECRET: "a-jwt-secret-of-forty-characters-000000",
  ADMIN_TOKEN: "an-admin-token-0123",
  CF_ACCOUNT_ID: ACCOUNT,
  CF_ANALYTICS_TOKEN: TOKEN,
  METRICS_DATASET: "coupon_requests_test",
  ANALYTICS_SQL_URL: `${base}/client/v4/accounts/{account}/analytics_engine/sql`,
  ALERT_WEBHOOK_URL: `${base}/hook`,
  ...extra,
});

interface Row {
  method: string;
  route: string;
  requests: number | string;
  errors: number | string;
  unavailable: number | string;
  p50_ms: number | string;
  p95_ms: number | string;
  p99_ms: number | string;
}

/** A `FORMAT JSON` answer, 64-bit sums as strings as ClickHouse writes them. */
function sqlAnswer(data: Row[]) {
  const body = JSON.stringify({
    meta: Object.keys(data[0] ?? {}).map((name) => ({ name, type: "String" })),
    data,
    rows: data.length,
  });
  return { status: 200, body };
}

// Claims slow (p95 3.1 s) and failing (150 of 2000 answers are 5xx: 7.5%, 3 of them an event's
// object unavailable), reads fine.
const BAD = sqlAnswer([
  {
    method: "POST",
    route: CLAIMS,
    requests: "1200",
    errors: "150",
    unavailable: "3",
    p50_ms: 850,
    p95_ms: "3100.46",
    p99_ms: 4800,
  },
  {
    method: "GET",
    route: "/v1/events/{id}",
    requests: 800,
    errors: 0,
    unavailable: 0,
    p50_ms: 3,
    p95_ms: 12,
    p99_ms: 30.04,
  },
]);
const QUIET = sqlAnswer([
  {
    method: "POST",
    route: CLAIMS,
    requests: "1200",
    errors: "0",
    unavailable: "0",
    p50_ms: 20,
    p95_ms: 45,
    p99_ms: 80,
  },
]);

describe("the request alerts on Analytics Engine", () => {
  it("send one weighted, windowed SQL query per route, with the token as a bearer", async () => {
    answer = BAD;
    const config = parseConfig(bindings()).analytics as AnalyticsConfig;
    const summary = await analyticsSummary(config, 2, T0);

    expect(sqlRequests).toHaveLength(1);
    const [sent] = sqlRequests;
    expect(sent?.method).toBe("POST");
    expect(sent?.path).toBe(`/client/v4/accounts/${ACCOUNT}/analytics_engine/sql`);
    expect(sent?.authorization).toBe(`Bearer ${TOKEN}`);
    // The two minutes before the injected clock, in epoch seconds.
    const end = T0 / 1000;
    expect(sent?.body).toBe(
      [
        "SELECT blob1 AS method, blob2 AS route,",
        "  SUM(_sample_interval) AS requests,",
        "  SUM(IF(double2 >= 500, _sample_interval, 0)) AS errors,",
        "  SUM(IF(blob4 = 'unavailable', _sample_interval, 0)) AS unavailable,",
        "  quantileExactWeighted(0.5)(double1, _sample_interval) AS p50_ms,",
        "  quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,",
        "  quantileExactWeighted(0.99)(double1, _sample_interval) AS p99_ms",
        "FROM coupon_requests_test",
        `WHERE timestamp > toDateTime(${end - 120}) AND timestamp <= toDateTime(${end})`,
        "GROUP BY method, route",
        "ORDER BY requests DESC",
        "LIMIT 500",
        "FORMAT JSON",
      ].join("\n"),
    );

    expect(summary).toEqual({
      at: "2026-09-12T14:00:00.000Z",
      windowSeconds: 120,
      since: "2026-09-12T13:58:00.000Z",
      event: null,
      total: {
        count: 2000,
        rps: 16.667,
        errorRate: 0.075,
        byStatus: {},
        bySlug: { unavailable: 3 },
        p50Ms: null,
        p95Ms: null,
        p99Ms: null,
      },
      routes: [
        {
          method: "GET",
          route: "/v1/events/{id}",
          count: 800,
          rps: 6.667,
          errorRate: 0,
          byStatus: {},
          bySlug: {},
          p50Ms: 3,
          p95Ms: 12,
          p99Ms: 30,
        },
        {
          method: "POST",
          route: CLAIMS,
          count: 1200,
          rps: 10,
          errorRate: 0.125,
          byStatus: {},
          bySlug: { unavailable: 3 },
          p50Ms: 850,
          p95Ms: 3100.5,
          p99Ms: 4800,
        },
      ],
    });
    expect(logged).toEqual([]);
  });

  it("fire on its answer; a failing SQL API neither fires nor resolves; a good answer resolves", async () => {
    const env = bindings();
    answer = BAD;
    const fired = await evaluateAlerts(servicesFor(env), T0);
    expect(posted.map((m) => `${m.status} ${m.rule}`)).toEqual([
      "firing p95",
      "firing error-rate",
      "firing object-unavailable",
    ]);
    expect(posted[0]?.text).toBe(
      `:rotating_light: FIRING p95: POST ${CLAIMS} p95 3.10 s (limit 2.00 s, last 120 s)`,
    );
    expect(posted[1]?.text).toBe(
      ":rotating_light: FIRING error-rate: 5xx 7.5% of 2000 answers (limit 5%, last 120 s)",
    );
    expect(fired.open.map((i) => i.rule)).toEqual(["p95", "error-rate", "object-unavailable"]);

    // Down, then answering something else than FORMAT JSON: no verdict, both stay open.
    const failures = [
      { status: 503, body: '{"success":false,"errors":[{"code":10000,"message":"down"}]}' },
      { status: 200, body: '{"success":true,"result":[]}' },
      { status: 200, body: "not json" },
    ];
    for (const [i, failure] of failures.entries()) {
      answer = failure;
      posted = [];
      const run = await evaluateAlerts(servicesFor(env), T0 + (i + 1) * MINUTE);
      expect(posted).toEqual([]);
      expect(run.open.map((o) => [o.rule, o.since])).toEqual([
        ["p95", T0],
        ["error-rate", T0],
        ["object-unavailable", T0],
      ]);
    }
    expect(sqlRequests).toHaveLength(4);
    expect(logged.map((line) => JSON.parse(line))).toEqual([
      {
        level: "error",
        msg: "analytics sql failed",
        error: expect.stringMatching(/^Error: HTTP 503: \{"success":false/),
      },
      {
        level: "error",
        msg: "analytics sql failed",
        error: "Error: unexpected answer at data",
      },
      { level: "error", msg: "analytics sql failed", error: expect.stringMatching(/^SyntaxError/) },
    ]);
    for (const line of logged) expect(line).not.toContain(TOKEN);

    answer = QUIET;
    posted = [];
    const resolved = await evaluateAlerts(servicesFor(env), T0 + 4 * MINUTE);
    expect(posted.map((m) => `${m.status} ${m.rule}`)).toEqual([
      "resolved p95",
      "resolved error-rate",
      "resolved object-unavailable",
    ]);
    expect(posted[0]?.text).toMatch(/^:white_check_mark: RESOLVED p95 after 4 min: /);
    expect(resolved.open).toEqual([]);
  });

  it("an unreachable SQL API is no verdict either", async () => {
    const env = bindings({ ANALYTICS_SQL_URL: "http://127.0.0.1:1/sql" });
    const run = await evaluateAlerts(servicesFor(env), T0);
    expect(run).toEqual({ open: [], posted: [], evaluated: true });
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0] as string)).toMatchObject({ msg: "analytics sql failed" });
  });

  it("without CF_ACCOUNT_ID and CF_ANALYTICS_TOKEN, read this isolate's aggregate instead", async () => {
    const env = bindings({ CF_ACCOUNT_ID: "", CF_ANALYTICS_TOKEN: "" });
    expect(parseConfig(env).analytics).toBeNull();
    const run = await evaluateAlerts(servicesFor(env), T0);
    expect(sqlRequests).toEqual([]);
    expect(run).toEqual({ open: [], posted: [], evaluated: true });
  });
});
