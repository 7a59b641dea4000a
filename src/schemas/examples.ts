/**
 * Examples for the OpenAPI document (docs.ts puts them on every body and answer that lacks one).
 * test/contract/openapi-examples.test.ts parses each one with its schema, so an example that no
 * longer fits fails the tests.
 */

import { problemPage } from "../problems.ts";

const EVENT_ID = "back-to-school-2026";

export const CREATE_EVENT_EXAMPLE = {
  id: EVENT_ID,
  name: "Back to school",
  totalStock: 500,
  startsAt: "2026-09-12T14:00:00Z",
  endsAt: "2026-09-12T18:00:00Z",
  couponExpiresAt: "2026-10-12T00:00:00Z",
  waves: [
    { at: "2026-09-12T14:00:00Z", quantity: 100 },
    { at: "2026-09-12T14:01:00Z", quantity: 200 },
    { at: "2026-09-12T14:03:00Z", quantity: 200 },
  ],
};

export const EVENT_EXAMPLE = {
  id: EVENT_ID,
  name: "Back to school",
  state: "awaiting-release",
  totalStock: 500,
  released: 300,
  issued: 300,
  remaining: 0,
  startsAt: "2026-09-12T14:00:00.000Z",
  endsAt: "2026-09-12T18:00:00.000Z",
  couponExpiresAt: "2026-10-12T00:00:00.000Z",
  waves: [
    { at: "2026-09-12T14:00:00.000Z", quantity: 100 },
    { at: "2026-09-12T14:01:00.000Z", quantity: 200 },
    { at: "2026-09-12T14:03:00.000Z", quantity: 200 },
  ],
  nextWaveAt: "2026-09-12T14:03:00.000Z",
  queue: null,
};

const TICKET_EXAMPLE = "v1.mfgk3x4g.7yQm2cV0d9rXb1LwTz5aHn8sKe3pUf6jR4oGi0MvWcY";

const QUEUE_TICKET_EXAMPLE = {
  eventId: EVENT_ID,
  ticket: TICKET_EXAMPLE,
  joinedAt: "2026-09-12T13:59:52.310Z",
};

const QUEUE_STATUS_EXAMPLE = {
  state: "waiting",
  position: 812,
  admittedThrough: 540,
  remaining: 160,
  estimatedWaitSeconds: 34,
  admittedUntil: null,
  lapsed: false,
};

export const COUPON_EXAMPLE = {
  id: "cpn_4f9K2mQxT8vLpR3nZ0aB7c.back-to-school-2026",
  eventId: EVENT_ID,
  userId: "alice",
  status: "issued",
  issuedAt: "2026-09-12T14:00:00.412Z",
  expiresAt: "2026-10-12T00:00:00.000Z",
  redeemedAt: null,
  orderId: null,
  hold: null,
};

export const STATS_EXAMPLE = {
  event: EVENT_EXAMPLE,
  claims: { issued: 300, rejected: { "awaiting-release": 1841, "not-started": 212 } },
  outbox: { pending: 12, oldestAgeMs: 180, deadLetters: 0 },
  sinks: { mysql: sinkExample(), kafka: sinkExample() },
};

function sinkExample() {
  return {
    state: "ok",
    delivered: 288,
    lastError: null,
    lastDeliveredAt: "2026-09-12T14:02:59.870Z",
    backlog: 12,
    oldestPendingAgeMs: 180,
    deadLetters: 0,
  };
}

function sinkTotals() {
  return { delivered: 1288, backlog: 12, deadLetters: 0, retryingEvents: 0, lastErrorClass: null };
}

const HEALTH_EXAMPLE = {
  status: "ok",
  sinks: { mysql: "ok", kafka: "ok", redis: "ok" },
  errors: {},
  outbox: {
    events: 3,
    pending: 12,
    oldestAgeMs: 180,
    deadLetters: 0,
    sinks: { mysql: sinkTotals(), kafka: sinkTotals() },
  },
};

/** By component schema name: used wherever a body or an answer is that component. */
export const COMPONENT_EXAMPLES: Record<string, unknown> = {
  CreateEvent: CREATE_EVENT_EXAMPLE,
  Event: EVENT_EXAMPLE,
  Coupon: COUPON_EXAMPLE,
  EventStats: STATS_EXAMPLE,
  Health: HEALTH_EXAMPLE,
  QueueTicket: QUEUE_TICKET_EXAMPLE,
  QueueStatus: QUEUE_STATUS_EXAMPLE,
};

/** Answers whose schema is not a component, by `METHOD /path status`. */
export const ANSWER_EXAMPLES: Record<string, unknown> = {
  "GET /v1/events/{id}/dead-letters 200": {
    items: [
      {
        id: 7,
        sink: "mysql",
        couponId: COUPON_EXAMPLE.id,
        error: "Duplicate entry 'back-to-school-2026-alice' for key 'event_user'",
        attempts: 5,
        failedAt: "2026-09-12T14:02:11.204Z",
      },
    ],
  },
  "POST /v1/events/{id}/dead-letters/requeue 200": { requeued: 1 },
  "GET /v1/me/coupons 200": {
    items: [COUPON_EXAMPLE],
    nextCursor: "WzE3ODkyMjI0MDA0MTIsImNwbl80ZjlLMm1ReFQ4dkxwUjNuWjBhQjdjIl0",
  },
  "GET /problems/{slug} 200": problemPage("sold-out"),
};

/** Parameters whose schema has no example, by name. */
export const PARAMETER_EXAMPLES: Record<string, unknown> = {
  slug: "sold-out",
  cursor: "WzE3ODkyMjI0MDA0MTIsImNwbl80ZjlLMm1ReFQ4dkxwUjNuWjBhQjdjIl0",
  limit: 20,
  "Queue-Ticket": TICKET_EXAMPLE,
};
