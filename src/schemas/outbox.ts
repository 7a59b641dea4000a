import { z } from "@hono/zod-openapi";
import { perSink } from "../../domain/sinks.ts";
import { ERROR_CLASSES } from "../../platform/error-class.ts";

export const ErrorClassSchema = z.enum(ERROR_CLASSES).openapi("ErrorClass", {
  description:
    "A coarse class of error. /health is public, so it never shows error text (which can quote SQL or user ids); the operator's `GET /v1/events/{id}/stats` has the text.",
});

const SinkTotalsSchema = z.object({
  delivered: z.number().int(),
  backlog: z.number().int(),
  deadLetters: z.number().int(),
  retryingEvents: z.number().int(),
  lastErrorClass: ErrorClassSchema.nullable().openapi({
    description: "Class of the latest error an event reports for this sink.",
  }),
});

/** Every event's outbox as the objects publish it to Redis (platform/outbox-registry.ts). */
export const OutboxTotalsSchema = z.object({
  events: z.number().int(),
  pending: z.number().int(),
  oldestAgeMs: z.number(),
  deadLetters: z.number().int(),
  sinks: z.object(perSink(() => SinkTotalsSchema)),
});
