import { createRoute, z } from "@hono/zod-openapi";
import { SINK_NAMES } from "../../domain/sinks.ts";
import { eventView } from "../../domain/views.ts";
import { toDefinition } from "../lib/event-definition.ts";
import { eventNotFound } from "../lib/event-problems.ts";
import { newRouter } from "../lib/router.ts";
import { waitUntilOf } from "../lib/wait-until.ts";
import { requireOperator } from "../middleware/auth.ts";
import { jsonBody } from "../middleware/json-body.ts";
import { ProblemError } from "../problems.ts";
import { EventIdParam, json, operatorEventProblems, problem } from "../schemas/common.ts";
import { CreateEventBody, EventSchema, StatsSchema } from "../schemas/event.ts";

const operator = [{ adminToken: [] }];

const createEvent = createRoute({
  method: "post",
  path: "/v1/events",
  summary: "Create an event",
  description:
    "Idempotent: creating the same id with the same definition again answers 200; a different definition answers 409 `conflict`.",
  tags: ["events"],
  security: operator,
  middleware: [requireOperator, jsonBody] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateEventBody } } },
  },
  responses: {
    201: json(EventSchema, "Created"),
    200: json(EventSchema, "Already created with the same definition"),
    400: problem("invalid-request"),
    401: problem("unauthorized"),
    403: problem("forbidden"),
    409: problem("conflict"),
    413: problem("payload-too-large"),
  },
});

const getEvent = createRoute({
  method: "get",
  path: "/v1/events/{id}",
  summary: "Read an event",
  description: "May be served from a cache up to 1 s old.",
  tags: ["events"],
  request: { params: EventIdParam },
  responses: {
    200: json(EventSchema, "The event"),
    400: problem("invalid-request"),
    404: problem("not-found"),
  },
});

const pauseRoute = (action: "pause" | "resume") =>
  createRoute({
    method: "post",
    path: `/v1/events/{id}/${action}`,
    summary: action === "pause" ? "Pause an event" : "Resume a paused event",
    description: "Takes effect at once; idempotent.",
    tags: ["events"],
    security: operator,
    middleware: [requireOperator] as const,
    request: { params: EventIdParam },
    responses: {
      200: json(EventSchema, "The event"),
      ...operatorEventProblems,
    },
  });

const getStats = createRoute({
  method: "get",
  path: "/v1/events/{id}/stats",
  summary: "Operator statistics of an event",
  tags: ["events"],
  security: operator,
  middleware: [requireOperator] as const,
  request: { params: EventIdParam },
  responses: {
    200: json(StatsSchema, "Counters, outbox and sinks"),
    ...operatorEventProblems,
  },
});

const DeadLetterSchema = z
  .object({
    id: z.number().int(),
    sink: z.enum(SINK_NAMES),
    couponId: z.string(),
    error: z.string(),
    attempts: z.number().int(),
    failedAt: z.string(),
  })
  .openapi("DeadLetter");

const listDeadLetters = createRoute({
  method: "get",
  path: "/v1/events/{id}/dead-letters",
  summary: "Records a sink refused every time",
  description: "Parked after a bounded number of attempts; they no longer block the outbox.",
  tags: ["events"],
  security: operator,
  middleware: [requireOperator] as const,
  request: { params: EventIdParam },
  responses: {
    200: json(
      z.object({ items: z.array(DeadLetterSchema) }),
      "Up to 100 dead letters, oldest first",
    ),
    ...operatorEventProblems,
  },
});

const requeueDeadLetters = createRoute({
  method: "post",
  path: "/v1/events/{id}/dead-letters/requeue",
  summary: "Retry every dead letter",
  description: "Puts them back in the outbox for the sink that refused them, with fresh attempts.",
  tags: ["events"],
  security: operator,
  middleware: [requireOperator] as const,
  request: { params: EventIdParam },
  responses: {
    200: json(z.object({ requeued: z.number().int() }), "How many were re-queued"),
    ...operatorEventProblems,
  },
});

export const events = newRouter()
  .openapi(createEvent, async (c) => {
    const def = toDefinition(c.req.valid("json"));
    const result = await c.var.services.events.define(def);
    if (result.outcome === "conflict") {
      throw new ProblemError("conflict", {
        detail: `Event "${def.id}" already exists with a different definition.`,
      });
    }
    c.header("Location", `/v1/events/${def.id}`);
    const { snapshot } = result;
    const event = eventView(snapshot.def, snapshot, Date.now());
    return c.json(event, result.outcome === "created" ? 201 : 200);
  })
  .openapi(getEvent, async (c) => {
    const { id } = c.req.valid("param");
    const event = await c.var.services.events.read(id, waitUntilOf(c));
    if (!event) throw eventNotFound(id);
    c.header("Cache-Control", "public, max-age=1");
    return c.json(event, 200);
  })
  .openapi(pauseRoute("pause"), async (c) => {
    const { id } = c.req.valid("param");
    const event = await c.var.services.events.setPaused(id, true);
    if (!event) throw eventNotFound(id);
    return c.json(event, 200);
  })
  .openapi(pauseRoute("resume"), async (c) => {
    const { id } = c.req.valid("param");
    const event = await c.var.services.events.setPaused(id, false);
    if (!event) throw eventNotFound(id);
    return c.json(event, 200);
  })
  .openapi(getStats, async (c) => {
    const { id } = c.req.valid("param");
    const stats = await c.var.services.events.stats(id);
    if (!stats) throw eventNotFound(id);
    return c.json(stats, 200);
  })
  .openapi(listDeadLetters, async (c) => {
    const { id } = c.req.valid("param");
    const letters = await c.var.services.events.deadLetters(id);
    if (!letters) throw eventNotFound(id);
    return c.json(
      { items: letters.map((l) => ({ ...l, failedAt: new Date(l.failedAt).toISOString() })) },
      200,
    );
  })
  .openapi(requeueDeadLetters, async (c) => {
    const { id } = c.req.valid("param");
    const result = await c.var.services.events.requeueDeadLetters(id);
    if (!result) throw eventNotFound(id);
    return c.json(result, 200);
  });
