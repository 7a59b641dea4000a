/**
 * The alert rules on an injected clock, posting to a local webhook receiver: each rule fires
 * once when crossed and resolves once when cleared, whatever the number of cron runs between.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OutboxTotals } from "../../platform/outbox-registry.ts";
import {
  type AlertConfig,
  type AlertInput,
  type AlertMessage,
  memoryStore,
  runAlerts,
  webhookPoster,
} from "../../src/lib/alerts.ts";
import { MetricsStore, type Sample } from "../../src/lib/metrics.ts";
import { startBodyServer } from "./body-server.ts";

const CONFIG: AlertConfig = {
  webhookUrl: null,
  p95Ms: 2000,
  errorRatePct: 5,
  maxRps: 50,
  outboxBacklog: 1000,
  outboxAgeSeconds: 60,
  sinkRetryingMinutes: 3,
  windowMinutes: 2,
  minRequests: 20,
};
const T0 = Date.parse("2026-09-12T14:00:00.000Z");
const MINUTE = 60_000;

// The receiver: a Slack-compatible incoming webhook on this machine, failing when told to.
let server: Awaited<ReturnType<typeof startBodyServer>>;
let url = "";
let received: AlertMessage[] = [];
let failNext = 0;
beforeAll(async () => {
  server = await startBodyServer((_req, body, res) => {
    if (failNext > 0) {
      failNext--;
      res.writeHead(500).end();
      return;
    }
    received.push(JSON.parse(body) as AlertMessage);
    res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
  });
  url = `${server.base}/hook`;
});
afterAll(() => server.close());
beforeEach(() => {
  received = [];
  failNext = 0;
});

/** `n` claims answered `status` in `ms`, at `at`, into a fresh aggregate; its 2-minute summary. */
function traffic(batches: { n: number; status: number; ms: number; slug?: string }[], at: number) {
  const store = new MetricsStore(at - 10 * MINUTE);
  for (const b of batches) {
    const sample: Sample = {
      method: "POST",
      route: "/v1/events/{id}/claims",
      status: b.status,
      slug: b.slug ?? "",
      ms: b.ms,
      eventId: "back-to-school",
    };
    for (let i = 0; i < b.n; i++) store.record(sample, at - 1000);
  }
  return store.summary(CONFIG.windowMinutes, at);
}

const quiet = (at: number) => traffic([{ n: 100, status: 201, ms: 20 }], at);

function outbox(overrides: Partial<OutboxTotals> = {}, kafkaRetrying = 0): OutboxTotals {
  const sink = (retryingEvents: number) => ({
    delivered: 10,
    backlog: retryingEvents > 0 ? 50 : 0,
    deadLetters: 0,
    retryingEvents,
    lastErrorClass: null,
  });
  return {
    events: 1,
    pending: 0,
    oldestAgeMs: 0,
    deadLetters: 0,
    sinks: { mysql: sink(0), kafka: sink(kafkaRetrying) } as OutboxTotals["sinks"],
    ...overrides,
  };
}

/** Runs the rules once per input, one minute apart, like the Cron Trigger. */
async function cron(inputs: ((at: number) => AlertInput)[], start = T0) {
  const store = memoryStore();
  const post = webhookPoster(url);
  const runs = [];
  for (const [i, input] of inputs.entries()) {
    const now = start + i * MINUTE;
    runs.push(await runAlerts({ config: CONFIG, input: input(now), store, post, now }));
  }
  return runs;
}

const ok = (at: number): AlertInput => ({ requests: quiet(at), outbox: outbox() });

const CASES: [string, (at: number) => AlertInput][] = [
  [
    "p95",
    (at) => ({ requests: traffic([{ n: 100, status: 201, ms: 3000 }], at), outbox: outbox() }),
  ],
  [
    "error-rate",
    (at) => ({
      requests: traffic(
        [
          { n: 90, status: 201, ms: 20 },
          { n: 10, status: 500, ms: 20, slug: "internal" },
        ],
        at,
      ),
      outbox: outbox(),
    }),
  ],
  [
    "rps",
    // 100 answers per second over the window's 60 s (the isolate's first minute of 2).
    (at) => ({
      requests: traffic([{ n: 6_100, status: 409, ms: 5, slug: "sold-out" }], at),
      outbox: outbox(),
    }),
  ],
  [
    "object-unavailable",
    (at) => ({
      requests: traffic(
        [
          { n: 99, status: 201, ms: 20 },
          { n: 1, status: 503, ms: 3000, slug: "unavailable" },
        ],
        at,
      ),
      outbox: outbox(),
    }),
  ],
  [
    "outbox-backlog",
    (at) => ({ requests: quiet(at), outbox: outbox({ pending: 1500, oldestAgeMs: 5000 }) }),
  ],
  [
    "outbox-age",
    (at) => ({ requests: quiet(at), outbox: outbox({ pending: 3, oldestAgeMs: 90_000 }) }),
  ],
];

describe("alerts", () => {
  it.each(CASES)("%s fires once when crossed and resolves once when cleared", async (rule, bad) => {
    const runs = await cron([ok, bad, bad, bad, ok, ok]);
    expect(received.map((m) => [m.status, m.rule])).toEqual([
      ["firing", rule],
      ["resolved", rule],
    ]);
    expect(received[0]?.text).toMatch(new RegExp(`^:rotating_light: FIRING ${rule}: `));
    expect(received[1]?.text).toMatch(
      new RegExp(`^:white_check_mark: RESOLVED ${rule} after 3 min`),
    );
    expect(runs.map((r) => r.open.map((i) => i.rule))).toEqual([
      [],
      [rule],
      [rule],
      [rule],
      [],
      [],
    ]);
  });

  it("a sink retrying fires only after the configured minutes, then resolves", async () => {
    const retrying = (at: number): AlertInput => ({ requests: quiet(at), outbox: outbox({}, 1) });
    // Retrying from minute 1; the limit is 3 minutes: fires at minute 4, resolves at minute 6.
    await cron([ok, retrying, retrying, retrying, retrying, retrying, ok, ok]);
    expect(received.map((m) => [m.status, m.rule, m.at])).toEqual([
      ["firing", "sink-retrying:kafka", new Date(T0 + 4 * MINUTE).toISOString()],
      ["resolved", "sink-retrying:kafka", new Date(T0 + 6 * MINUTE).toISOString()],
    ]);
  });

  it("a few requests are no verdict on the error rate", async () => {
    const few = (at: number): AlertInput => ({
      requests: traffic([{ n: 3, status: 500, ms: 20, slug: "internal" }], at),
      outbox: outbox(),
    });
    await cron([few, few]);
    expect(received).toEqual([]);
  });

  it("a post the receiver refuses is retried at the next run, and sent once", async () => {
    const slow: (at: number) => AlertInput = CASES[0]?.[1] ?? ok;
    failNext = 1;
    const runs = await cron([slow, slow, slow]);
    expect(received.map((m) => [m.status, m.rule, m.at])).toEqual([
      ["firing", "p95", new Date(T0 + MINUTE).toISOString()],
    ]);
    expect(runs[0]?.open).toEqual([]);
    expect(runs[2]?.open.map((i) => i.rule)).toEqual(["p95"]);
  });

  it("two rules at once are two incidents, resolved separately", async () => {
    const both = (at: number): AlertInput => ({
      requests: traffic([{ n: 100, status: 201, ms: 3000 }], at),
      outbox: outbox({ pending: 5000, oldestAgeMs: 1000 }),
    });
    const slowOnly: (at: number) => AlertInput = CASES[0]?.[1] ?? ok;
    await cron([both, both, slowOnly, ok]);
    expect(received.map((m) => `${m.status} ${m.rule}`)).toEqual([
      "firing p95",
      "firing outbox-backlog",
      "resolved outbox-backlog",
      "resolved p95",
    ]);
  });

  it("without Redis the outbox rules have no verdict, and an open one resolves", async () => {
    const backlog = (at: number): AlertInput => ({
      requests: quiet(at),
      outbox: outbox({ pending: 5000 }),
    });
    const noRedis = (at: number): AlertInput => ({ requests: quiet(at), outbox: null });
    await cron([backlog, noRedis, noRedis]);
    expect(received.map((m) => `${m.status} ${m.rule}`)).toEqual([
      "firing outbox-backlog",
      "resolved outbox-backlog",
    ]);
  });
});
