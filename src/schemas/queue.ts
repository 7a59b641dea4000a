import { z } from "@hono/zod-openapi";
import { Timestamp } from "./common.ts";

/** The room's public state in an `Event` (null for an event without a room). */
export const QueueSchema = z
  .object({
    opensAt: z.string(),
    seedCommitment: z.string().openapi({ description: "SHA-256 (hex) of the draw's seed bytes." }),
    seed: z
      .string()
      .nullable()
      .openapi({ description: "The draw's seed (hex), from startsAt; null before." }),
    joined: z.number().int(),
    admittedThrough: z.number().int(),
    lapsed: z
      .number()
      .int()
      .openapi({ description: "Admissions that ran out unused (their places went on)." }),
    margin: z.number().int(),
    admitSeconds: z.number().int(),
  })
  .openapi("Queue");

/** `queue` of a create: when users may join, and how admissions run. */
export const CreateQueueBody = z
  .object({
    opensAt: Timestamp,
    margin: z.number().int().min(0).max(1_000_000).optional().openapi({
      description:
        "Admitted users not yet claimed may exceed the remaining stock by this many (default 0).",
    }),
    admitSeconds: z
      .number()
      .int()
      .min(10)
      .max(3600)
      .optional()
      .openapi({ description: "How long an admission lasts (default 120)." }),
  })
  .strict();

export const QueueTicketSchema = z
  .object({
    eventId: z.string(),
    ticket: z.string().openapi({ description: "Send it back in the Queue-Ticket header." }),
    joinedAt: z.string(),
  })
  .openapi("QueueTicket");

export type QueueTicket = z.infer<typeof QueueTicketSchema>;

export const QueueStatusSchema = z
  .object({
    state: z.enum(["waiting", "admitted", "sold-out", "ended"]),
    position: z.number().int().nullable().openapi({ description: "Null before the draw." }),
    admittedThrough: z.number().int(),
    remaining: z.number().int().openapi({ description: "Coupons released and not issued yet." }),
    estimatedWaitSeconds: z.number().int().nullable(),
    admittedUntil: z.string().nullable(),
    lapsed: z.boolean().openapi({ description: "This user's admission ran out unused." }),
  })
  .openapi("QueueStatus");

export type QueueStatusBody = z.infer<typeof QueueStatusSchema>;

export const QUEUE_TICKET_HEADER = "Queue-Ticket";

/** Documented as the claims route documents Turnstile's header; routes read it themselves. */
export const QueueTicketHeader = z.object({
  [QUEUE_TICKET_HEADER]: z.string().optional().openapi({
    description: "The ticket from joining the event's waiting room.",
  }),
});
