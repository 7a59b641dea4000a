import { z } from "zod";
import { EVENT_ID_PATTERN, isWellFormed, WELL_FORMED_RULE } from "./identifiers.ts";
import { type EventDefinition, MAX_STOCK } from "./ledger.ts";
import { JURISDICTIONS, REGIONS } from "./placement.ts";
import { MAX_SHARDS } from "./shards.ts";

/** The definition as the object stores it; checked again here because RPC is a boundary too. */
export const eventDefinitionSchema = z
  .object({
    id: z.string().regex(EVENT_ID_PATTERN),
    name: z.string().min(1).max(200).refine(isWellFormed, WELL_FORMED_RULE),
    totalStock: z.number().int().min(1).max(MAX_STOCK),
    startsAt: z.number().int(),
    endsAt: z.number().int().nullable(),
    couponExpiresAt: z.number().int().nullable(),
    waves: z.array(z.object({ at: z.number().int(), quantity: z.number().int().min(1) })).min(1),
    region: z.enum(REGIONS).nullable().optional(),
    jurisdiction: z.enum(JURISDICTIONS).nullable().optional(),
    queue: z
      .object({
        opensAt: z.number().int(),
        margin: z.number().int().min(0).max(MAX_STOCK),
        admitSeconds: z.number().int().min(1).max(86_400),
      })
      .strict()
      .nullable()
      .optional(),
    shards: z.number().int().min(2).max(MAX_SHARDS).optional(),
  })
  .strict()
  .refine((d) => d.waves.reduce((sum, w) => sum + w.quantity, 0) === d.totalStock, {
    message: "wave quantities must add up to totalStock",
  });

/**
 * Two definitions are the same event when every field matches (waves already sorted); an absent
 * region or jurisdiction is the same as null, so definitions stored before they existed still match.
 */
export function sameDefinition(a: EventDefinition, b: EventDefinition): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(d: EventDefinition): unknown[] {
  return [
    d.id,
    d.name,
    d.totalStock,
    d.startsAt,
    d.endsAt,
    d.couponExpiresAt,
    d.waves.map((w) => [w.at, w.quantity]),
    d.region ?? null,
    d.jurisdiction ?? null,
    d.queue ? [d.queue.opensAt, d.queue.margin, d.queue.admitSeconds] : null,
    d.shards ?? 1,
  ];
}
