import { z } from "@hono/zod-openapi";
import {
  EVENT_ID_PATTERN,
  EVENT_ID_RULE,
  isWellFormed,
  WELL_FORMED_RULE,
} from "../../domain/identifiers.ts";
import { EVENT_STATES, MAX_STOCK } from "../../domain/ledger.ts";
import { JURISDICTIONS, REGIONS } from "../../domain/placement.ts";
import { MAX_SHARDS } from "../../domain/shards.ts";
import { perSink, SINK_STATES } from "../../domain/sinks.ts";
import { Timestamp } from "./common.ts";
import { CreateQueueBody, QueueSchema } from "./queue.ts";

const MAX_WAVES = 1000;

const EventStateSchema = z.enum(EVENT_STATES).openapi("EventState");

const RegionSchema = z.enum(REGIONS).openapi("Region", {
  description:
    "A Cloudflare location hint: the event's objects are created near it, so claims from that region skip a long round trip. Fixed at creation.",
});
const JurisdictionSchema = z.enum(JURISDICTIONS).openapi("Jurisdiction", {
  description:
    "The event's objects run and store data only inside this jurisdiction. Fixed at creation.",
});

export const EventSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: EventStateSchema,
    totalStock: z.number().int(),
    released: z.number().int().openapi({ description: "Stock released by the waves so far." }),
    issued: z.number().int(),
    remaining: z.number().int().openapi({ description: "released - issued" }),
    startsAt: z.string(),
    endsAt: z.string().nullable(),
    couponExpiresAt: z.string().nullable(),
    waves: z.array(z.object({ at: z.string(), quantity: z.number().int() })),
    nextWaveAt: z.string().nullable(),
    region: RegionSchema.optional().openapi({ description: "Shown when the event has one." }),
    jurisdiction: JurisdictionSchema.optional().openapi({
      description: "Shown when the event has one.",
    }),
    queue: QueueSchema.nullable(),
    shards: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Objects sharing the stock; shown when above 1." }),
  })
  .openapi("Event");

export const CreateEventBody = z
  .object({
    id: z.string().regex(EVENT_ID_PATTERN, `id ${EVENT_ID_RULE}`),
    name: z.string().trim().min(1).max(200).refine(isWellFormed, WELL_FORMED_RULE),
    totalStock: z.number().int().min(1).max(MAX_STOCK),
    startsAt: Timestamp,
    endsAt: Timestamp.nullable().optional(),
    couponExpiresAt: Timestamp.nullable().optional(),
    waves: z
      .array(z.object({ at: Timestamp, quantity: z.number().int().min(1).max(MAX_STOCK) }).strict())
      .min(1)
      .max(MAX_WAVES)
      .optional()
      .openapi({ description: "Defaults to all stock in one wave at startsAt." }),
    region: RegionSchema.optional(),
    jurisdiction: JurisdictionSchema.optional(),
    queue: CreateQueueBody.optional().openapi({
      description:
        "A waiting room: users join from opensAt (before startsAt) and are admitted by a fair draw.",
    }),
    shards: z.number().int().min(1).max(MAX_SHARDS).optional().openapi({
      description: "Objects sharing the event's stock (default 1); see docs/shards.md.",
    }),
  })
  .strict()
  .superRefine((body, ctx) => {
    const startsAt = Date.parse(body.startsAt);
    if (body.endsAt && Date.parse(body.endsAt) <= startsAt) {
      ctx.addIssue({ code: "custom", path: ["endsAt"], message: "endsAt must be after startsAt" });
    }
    if (body.couponExpiresAt && Date.parse(body.couponExpiresAt) <= startsAt) {
      ctx.addIssue({
        code: "custom",
        path: ["couponExpiresAt"],
        message: "couponExpiresAt must be after startsAt",
      });
    }
    if (body.queue && Date.parse(body.queue.opensAt) >= startsAt) {
      ctx.addIssue({
        code: "custom",
        path: ["queue", "opensAt"],
        message: "opensAt must be before startsAt",
      });
    }
    // The room's draw and admissions live in one object; a sharded event has none yet.
    if (body.queue && body.shards !== undefined && body.shards > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["shards"],
        message: "an event with a waiting room has one shard (shards 1)",
      });
    }
    if (!body.waves) return;
    const sum = body.waves.reduce((total, wave) => total + wave.quantity, 0);
    if (sum !== body.totalStock) {
      ctx.addIssue({
        code: "custom",
        path: ["waves"],
        message: `wave quantities add up to ${sum}, not totalStock ${body.totalStock}`,
      });
    }
    body.waves.forEach((wave, i) => {
      const at = Date.parse(wave.at);
      if (at < startsAt) {
        ctx.addIssue({
          code: "custom",
          path: ["waves", i, "at"],
          message: "a wave cannot come before startsAt",
        });
      }
      if (body.endsAt && at >= Date.parse(body.endsAt)) {
        ctx.addIssue({
          code: "custom",
          path: ["waves", i, "at"],
          message: "a wave must come before endsAt",
        });
      }
    });
  })
  .openapi("CreateEvent");

export type CreateEventInput = z.infer<typeof CreateEventBody>;

const SinkSchema = z
  .object({
    state: z.enum(SINK_STATES),
    delivered: z.number().int(),
    lastError: z.string().nullable(),
    lastDeliveredAt: z.string().nullable(),
    backlog: z.number().int(),
    oldestPendingAgeMs: z.number(),
    deadLetters: z.number().int(),
  })
  .openapi("Sink");

export const StatsSchema = z
  .object({
    event: EventSchema,
    claims: z.object({
      issued: z.number().int(),
      rejected: z.record(z.string(), z.number().int()),
    }),
    outbox: z.object({
      pending: z.number().int(),
      oldestAgeMs: z.number(),
      deadLetters: z.number().int(),
    }),
    sinks: z.object(perSink(() => SinkSchema)),
  })
  .openapi("EventStats");

export type EventStats = z.infer<typeof StatsSchema>;
