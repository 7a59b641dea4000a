import { createRoute, z } from "@hono/zod-openapi";
import type { Redis } from "@upstash/redis/cloudflare";
import { EVENT_ID_PATTERN } from "../../domain/identifiers.ts";
import { type OutboxTotals, readOutboxTotals } from "../../platform/outbox-registry.ts";
import { withTimeout } from "../../platform/timeout.ts";
import { evaluateAlerts, openIncidents } from "../lib/alerts-run.ts";
import { metrics, type PrometheusFamily, WINDOW_MINUTES } from "../lib/metrics.ts";
import { newRouter } from "../lib/router.ts";
import { requireOperator } from "../middleware/auth.ts";
import { json, problem } from "../schemas/common.ts";
import { OutboxTotalsSchema } from "../schemas/outbox.ts";

const operator = [{ adminToken: [] }];
const operatorProblems = {
  400: problem("invalid-request"),
  401: problem("unauthorized"),
  403: problem("forbidden"),
} as const;

const PROMETHEUS_EXAMPLE = [
  "# HELP coupon_http_requests_total Answers by route, status and problem slug since the isolate started.",
  "# TYPE coupon_http_requests_total counter",
  'coupon_http_requests_total{method="POST",route="/v1/events/{id}/claims",status="201",slug=""} 500',
  'coupon_http_requests_total{method="POST",route="/v1/events/{id}/claims",status="409",slug="sold-out"} 2000',
  "",
].join("\n");

const metricsText = createRoute({
  method: "get",
  path: "/v1/admin/metrics",
  summary: "Metrics in the Prometheus text format",
  description:
    "This isolate's request counters and latency histograms since it started (per route, status and problem slug; per event), and every event's outbox and sinks as their objects last published them to Redis. In production each isolate answers for itself: the whole service is in Workers Analytics Engine (see docs/runbook.md).",
  tags: ["operations"],
  security: operator,
  middleware: [requireOperator] as const,
  responses: {
    200: {
      description: "Prometheus text exposition format 0.0.4",
      content: {
        "text/plain; version=0.0.4": {
          schema: z.string().openapi({ example: PROMETHEUS_EXAMPLE }),
        },
      },
    },
    ...operatorProblems,
  },
});

const Quantiles = {
  count: z.number().int(),
  rps: z.number().openapi({ description: "Answers per second over the window" }),
  errorRate: z.number().openapi({ description: "5xx answers over all answers, 0..1" }),
  byStatus: z.record(z.string(), z.number().int()),
  bySlug: z.record(z.string(), z.number().int()),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
};

const ROUTE_EXAMPLE = {
  count: 2500,
  rps: 41.7,
  errorRate: 0,
  byStatus: { 201: 500, 409: 2000 },
  bySlug: { "sold-out": 2000 },
  p50Ms: 12.5,
  p95Ms: 48.1,
  p99Ms: 96.2,
};

const SINK_EXAMPLE = {
  delivered: 500,
  backlog: 0,
  deadLetters: 0,
  retryingEvents: 0,
  lastErrorClass: null,
};

export const MetricsSummarySchema = z
  .object({
    at: z.string(),
    windowSeconds: z.number(),
    since: z.string().openapi({ description: "When this isolate started recording" }),
    event: z.string().nullable(),
    events: z
      .array(z.string())
      .openapi({ description: "Events this isolate has answered about, busiest first" }),
    total: z.object(Quantiles),
    routes: z.array(z.object({ method: z.string(), route: z.string(), ...Quantiles })),
    outbox: OutboxTotalsSchema.nullable().openapi({
      description: "Every event's outbox from Redis; null without Redis",
    }),
  })
  .openapi("MetricsSummary", {
    example: {
      at: "2026-09-12T14:05:00.000Z",
      windowSeconds: 300,
      since: "2026-09-12T13:00:00.000Z",
      event: null,
      events: ["back-to-school"],
      total: ROUTE_EXAMPLE,
      routes: [{ method: "POST", route: "/v1/events/{id}/claims", ...ROUTE_EXAMPLE }],
      outbox: {
        events: 1,
        pending: 0,
        oldestAgeMs: 0,
        deadLetters: 0,
        sinks: {
          mysql: SINK_EXAMPLE,
          kafka: SINK_EXAMPLE,
        },
      },
    },
  });

export type MetricsSummary = z.infer<typeof MetricsSummarySchema>;

const summary = createRoute({
  method: "get",
  path: "/v1/admin/metrics/summary",
  summary: "The last minutes per route",
  description: `Per route over the last \`minutes\` (1..${WINDOW_MINUTES}, default 5, the current minute included): answers, answers per second, error rate (5xx), answers by status and problem slug, p50/p95/p99 from fixed histogram buckets (interpolated). Plus every event's outbox from Redis.`,
  tags: ["operations"],
  security: operator,
  middleware: [requireOperator] as const,
  request: {
    query: z.object({
      minutes: z.coerce
        .number()
        .int()
        .min(1)
        .max(WINDOW_MINUTES)
        .default(5)
        .openapi({ example: 5 }),
      event: z
        .string()
        .regex(EVENT_ID_PATTERN)
        .optional()
        .openapi({ description: "Only the requests about this event", example: "back-to-school" }),
    }),
  },
  responses: {
    200: json(MetricsSummarySchema, "The last minutes"),
    ...operatorProblems,
  },
});

const OUTBOX_TIMEOUT_MS = 2_000;

/** Every event's outbox as published to Redis; null without Redis or when it does not answer. */
async function outboxTotals(redis: Redis | null): Promise<OutboxTotals | null> {
  if (!redis) return null;
  return withTimeout(readOutboxTotals(redis, Date.now()), OUTBOX_TIMEOUT_MS, "outbox totals").catch(
    () => null,
  );
}

/** The outbox totals as Prometheus gauges. */
export function outboxFamilies(outbox: OutboxTotals): PrometheusFamily[] {
  const sinks = Object.entries(outbox.sinks);
  const perSink = (pick: (s: OutboxTotals["sinks"][keyof OutboxTotals["sinks"]]) => number) =>
    sinks.map(([sink, totals]) => ({ labels: { sink }, value: pick(totals) }));
  return [
    {
      name: "coupon_outbox_pending",
      help: "Outbox rows not yet delivered to every sink, all events.",
      type: "gauge",
      samples: [{ labels: {}, value: outbox.pending }],
    },
    {
      name: "coupon_outbox_oldest_age_seconds",
      help: "Age of the oldest undelivered outbox row, all events.",
      type: "gauge",
      samples: [{ labels: {}, value: outbox.oldestAgeMs / 1000 }],
    },
    {
      name: "coupon_dead_letters",
      help: "Records parked after too many refusals, all events.",
      type: "gauge",
      samples: [{ labels: {}, value: outbox.deadLetters }],
    },
    {
      name: "coupon_sink_delivered",
      help: "Records a sink has accepted, all events (as last published).",
      type: "gauge",
      samples: perSink((s) => s.delivered),
    },
    {
      name: "coupon_sink_backlog",
      help: "Records waiting for a sink, all events.",
      type: "gauge",
      samples: perSink((s) => s.backlog),
    },
    {
      name: "coupon_sink_retrying_events",
      help: "Events whose object reports the sink retrying.",
      type: "gauge",
      samples: perSink((s) => s.retryingEvents),
    },
  ];
}

const IncidentSchema = z.object({
  rule: z.string().openapi({ example: "p95" }),
  since: z.number().openapi({ description: "When it started firing (epoch ms)" }),
  detail: z.string(),
});

const INCIDENT_EXAMPLE = {
  rule: "p95",
  since: 1_757_685_660_000,
  detail: "POST /v1/events/{id}/claims p95 2.40 s (limit 2.00 s, last 120 s)",
};

const AlertsSchema = z
  .object({
    open: z.array(IncidentSchema),
    thresholds: z.record(z.string(), z.union([z.number(), z.boolean()])),
  })
  .openapi("Alerts", {
    example: {
      open: [INCIDENT_EXAMPLE],
      thresholds: { p95Ms: 2000, errorRatePct: 5, maxRps: 2000, webhook: true },
    },
  });

const listAlerts = createRoute({
  method: "get",
  path: "/v1/admin/alerts",
  summary: "Alerts firing now",
  description:
    "The incidents open now (posted as firing to ALERT_WEBHOOK_URL, not yet resolved) and the thresholds in force (docs/runbook.md).",
  tags: ["operations"],
  security: operator,
  middleware: [requireOperator] as const,
  responses: { 200: json(AlertsSchema, "Open incidents"), ...operatorProblems },
});

const EvaluationSchema = z
  .object({
    evaluated: z.boolean().openapi({ description: "false when another evaluation was running" }),
    open: z.array(IncidentSchema),
    posted: z.array(
      z.object({
        text: z.string(),
        status: z.enum(["firing", "resolved"]),
        rule: z.string(),
        since: z.string(),
        at: z.string(),
      }),
    ),
  })
  .openapi("AlertEvaluation", {
    example: {
      evaluated: true,
      open: [INCIDENT_EXAMPLE],
      posted: [
        {
          text: `:rotating_light: FIRING p95: ${INCIDENT_EXAMPLE.detail}`,
          status: "firing",
          rule: "p95",
          since: "2026-09-12T14:01:00.000Z",
          at: "2026-09-12T14:01:00.000Z",
        },
      ],
    },
  });

const evaluateNow = createRoute({
  method: "post",
  path: "/v1/admin/alerts/evaluate",
  summary: "Evaluate the alert rules now",
  description:
    "What the Cron Trigger does every minute. The request rules read Workers Analytics Engine (every isolate's requests) when `CF_ACCOUNT_ID` and `CF_ANALYTICS_TOKEN` are set, else the aggregate of the isolate that answers (locally: all requests); the outbox and sink rules read every event's summary in Redis.",
  tags: ["operations"],
  security: operator,
  middleware: [requireOperator] as const,
  responses: { 200: json(EvaluationSchema, "This evaluation"), ...operatorProblems },
});

export const admin = newRouter()
  .openapi(metricsText, async (c) => {
    const outbox = await outboxTotals(c.var.services.redis);
    const text = metrics.prometheus(outbox ? outboxFamilies(outbox) : []);
    return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  })
  .openapi(summary, async (c) => {
    const { minutes, event } = c.req.valid("query");
    const outbox = await outboxTotals(c.var.services.redis);
    const events = metrics.eventIds();
    return c.json({ ...metrics.summary(minutes, Date.now(), event), events, outbox }, 200);
  })
  .openapi(listAlerts, async (c) => {
    const { webhookUrl, ...limits } = c.var.services.config.alerts;
    return c.json(
      {
        open: await openIncidents(c.var.services),
        thresholds: { ...limits, webhook: webhookUrl !== null },
      },
      200,
    );
  })
  .openapi(evaluateNow, async (c) => c.json(await evaluateAlerts(c.var.services), 200));
