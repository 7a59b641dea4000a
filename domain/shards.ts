import { fnv1a } from "./fnv.ts";
import type { EventDefinition, Refusal } from "./ledger.ts";

/**
 * One event's stock spread over several objects (docs/shards.md). The event's own object (named
 * by the event id) coordinates: it keeps the definition, the waves, pause and a lease table. Each
 * shard (the same class, named `<eventId>/s<k>`) issues from the stock it leased, and a user
 * always lands on the same shard, so one coupon per user stays a local, exact decision.
 */

/**
 * How a shard's or the coordinator's "not now" starts (no lease came in time, a shard did not
 * answer a recall): the Worker answers it 503 with Retry-After, and a retry is idempotent.
 */
export const SHARD_BUSY = "event shard busy:";

/** The most shards one event may have (the create body's `shards`). */
export const MAX_SHARDS = 64;

/** How many objects share the event's stock (1: one object, today's layout). */
export function shardCount(def: Pick<EventDefinition, "shards">): number {
  return def.shards ?? 1;
}

/** The shard a user lands on: a fixed hash of the event id and the user id. */
export function shardOf(eventId: string, userId: string, shards: number): number {
  if (shards <= 1) return 0;
  // The event id seeds the hash, so one user lands on different shards in different events.
  return fnv1a(userId, fnv1a(eventId)) % shards;
}

/** The name shard `k`'s object is found by (event ids never hold a `/`). */
export function shardName(eventId: string, k: number): string {
  return `${eventId}/s${k}`;
}

/**
 * The definition a shard plans its claims with: the event's times, but a stock of `limit` (what
 * it holds by lease), all released at the start. A `sold-out` it plans means only "no leased
 * stock left": the shard asks the coordinator then, and only the coordinator says sold out.
 */
export function shareDefinition(def: EventDefinition, limit: number): EventDefinition {
  const { shards: _shards, ...rest } = def;
  return { ...rest, totalStock: limit, waves: [{ at: def.startsAt, quantity: limit }] };
}

/** What a shard sends with a lease request: the lease's number and its own totals. */
export interface LeaseRequest {
  shard: number;
  /** The shard's next lease number: asking twice for one number gets the same grant. */
  seq: number;
  want: number;
  /** Users wait with no stock: the coordinator may recall other shards' remainders for them. */
  urgent: boolean;
  /** The shard's totals (granted as it recorded them, returned by recalls, issued). */
  granted: number;
  returned: number;
  issued: number;
}

/**
 * The coordinator's answer: a grant (possibly 0 with `retry`: stock moved while it looked), or
 * the event's refusal (sold-out only once every released coupon is issued, awaiting-release with
 * its Retry-After from the waves, paused, ended, not-started).
 */
export type LeaseAnswer =
  | { outcome: "granted"; granted: number }
  | { outcome: "retry" }
  | { outcome: "refused"; refusal: Refusal; until: number | null };

/** A shard's totals as a recall leaves them. */
export interface ShareTotals {
  granted: number;
  returned: number;
  issued: number;
}

/** One grant the coordinator recorded, so that a shard that lost it adopts it on a recall. */
export interface Grant {
  seq: number;
  granted: number;
}

/** A lease covers about this much of the shard's recent claim rate. */
const LEASE_HORIZON_MS = 500;
const MIN_LEASE = 4;
/** Before a shard knows its rate: a fraction of its even share of the stock. */
const FIRST_LEASE_PARTS = 4;

/** How many coupons a shard asks for: its claim rate over LEASE_HORIZON_MS, bounded. */
export function leaseWant(def: EventDefinition, ratePerSecond: number): number {
  const shards = shardCount(def);
  const evenShare = Math.ceil(def.totalStock / shards);
  const byRate =
    ratePerSecond > 0
      ? Math.ceil((ratePerSecond * LEASE_HORIZON_MS) / 1000)
      : Math.ceil(evenShare / FIRST_LEASE_PARTS);
  return Math.max(1, Math.min(evenShare, Math.max(MIN_LEASE, byRate)));
}

/** Below this many unissued leased coupons, a shard asks for more in the background. */
export function lowMark(want: number): number {
  return Math.max(1, Math.floor(want / 2));
}

/**
 * How much of the unleased pool one request gets: what it wants, but near the end no more than
 * an even part of the pool per shard, so the last coupons spread instead of piling on one shard.
 */
export function grantSize(want: number, pool: number, shards: number): number {
  if (pool <= 0) return 0;
  const fair = Math.max(1, Math.ceil(pool / shards));
  return Math.max(1, Math.min(want, pool, pool < want * shards ? fair : want));
}

/**
 * The object that holds a coupon, from its id: the event's own for an unsharded event, the
 * shard the id names for a sharded one; null when the id cannot be of this event.
 */
export function couponObjectName(
  eventId: string,
  shard: number | null,
  shards: number,
): string | null {
  if (shards <= 1) return shard === null ? eventId : null;
  return shard !== null && shard < shards ? shardName(eventId, shard) : null;
}
