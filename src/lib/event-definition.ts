import { DEFAULT_ADMIT_SECONDS, DEFAULT_MARGIN } from "../../domain/admission.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import type { CreateEventInput } from "../schemas/event.ts";

const ms = (iso: string): number => Date.parse(iso);
const msOrNull = (iso: string | null | undefined): number | null => (iso ? ms(iso) : null);

/** The validated create body as the object stores it: epoch ms, waves sorted, defaults filled. */
export function toDefinition(body: CreateEventInput): EventDefinition {
  const startsAt = ms(body.startsAt);
  const waves = body.waves
    ? body.waves.map((w) => ({ at: ms(w.at), quantity: w.quantity })).sort((a, b) => a.at - b.at)
    : [{ at: startsAt, quantity: body.totalStock }];
  return {
    id: body.id,
    name: body.name,
    totalStock: body.totalStock,
    startsAt,
    endsAt: msOrNull(body.endsAt),
    couponExpiresAt: msOrNull(body.couponExpiresAt),
    waves,
    // Only when set: an unplaced event's stored definition stays as it always was.
    ...(body.region ? { region: body.region } : {}),
    ...(body.jurisdiction ? { jurisdiction: body.jurisdiction } : {}),
    ...(body.queue
      ? {
          queue: {
            opensAt: ms(body.queue.opensAt),
            margin: body.queue.margin ?? DEFAULT_MARGIN,
            admitSeconds: body.queue.admitSeconds ?? DEFAULT_ADMIT_SECONDS,
          },
        }
      : {}),
    // One shard is the unsharded layout: stored as before, so the definition stays the same.
    ...(body.shards !== undefined && body.shards > 1 ? { shards: body.shards } : {}),
  };
}
