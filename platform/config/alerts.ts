import { int, optional, secretUrl, section } from "./fields.ts";

/** The alert rules' thresholds, and where alerts are posted. */
export const alerts = section({
  settings: {
    /** Where alerts are posted (Slack-compatible JSON); unset = alerts evaluated, not posted. */
    ALERT_WEBHOOK_URL: optional(secretUrl("a Slack-compatible incoming webhook")),
    /** Alert when a route's p95 over the last minutes is above this (the post-mortem's 2 s). */
    ALERT_P95_MS: int(1, 600_000, 2_000),
    /** Alert when 5xx answers are above this share of all answers, in percent (post-mortem: 5). */
    ALERT_ERROR_RATE_PCT: int(1, 100, 5),
    /** Alert when the service answers more requests per second than this. */
    ALERT_MAX_RPS: int(1, 10_000_000, 2_000),
    /** Alert when the outbox holds more rows than this, all events together. */
    ALERT_OUTBOX_BACKLOG: int(1, 100_000_000, 5_000),
    /** Alert when the oldest undelivered outbox row is older than this many seconds. */
    ALERT_OUTBOX_AGE_S: int(1, 86_400, 60),
    /** Alert when a sink has been `retrying` for this many minutes. */
    ALERT_SINK_RETRYING_MINUTES: int(1, 1_440, 3),
    /** Minutes of traffic the request rules look at; fewer requests than ALERT_MIN_REQUESTS, no verdict. */
    ALERT_WINDOW_MINUTES: int(1, 15, 2),
    ALERT_MIN_REQUESTS: int(1, 1_000_000, 20),
  },
  read: (s) => ({
    webhookUrl: s.ALERT_WEBHOOK_URL ?? null,
    p95Ms: s.ALERT_P95_MS,
    errorRatePct: s.ALERT_ERROR_RATE_PCT,
    maxRps: s.ALERT_MAX_RPS,
    outboxBacklog: s.ALERT_OUTBOX_BACKLOG,
    outboxAgeSeconds: s.ALERT_OUTBOX_AGE_S,
    sinkRetryingMinutes: s.ALERT_SINK_RETRYING_MINUTES,
    windowMinutes: s.ALERT_WINDOW_MINUTES,
    minRequests: s.ALERT_MIN_REQUESTS,
  }),
});
