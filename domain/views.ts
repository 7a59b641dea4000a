import type { RoomState } from "./admission.ts";
import type { CouponView } from "./coupon.ts";
import type { HoldersFilter } from "./holders-filter.ts";
import {
  type EventDefinition,
  type EventState,
  type LedgerCounters,
  nextWaveAt,
  type Refusal,
  releasedAt,
  stateOf,
} from "./ledger.ts";
import type { Jurisdiction, Region } from "./placement.ts";
import type { SinkName, SinkState } from "./sinks.ts";

/** What the object answers over RPC: plain, structured-clonable data in the API's shapes. */

export interface EventView {
  id: string;
  name: string;
  state: EventState;
  totalStock: number;
  released: number;
  issued: number;
  remaining: number;
  startsAt: string;
  endsAt: string | null;
  couponExpiresAt: string | null;
  waves: { at: string; quantity: number }[];
  nextWaveAt: string | null;
  /** Present only when the event was created with one (domain/placement.ts). */
  region?: Region;
  jurisdiction?: Jurisdiction;
  /** The waiting room (API.md "Waiting room"); null for an event without one. */
  queue: QueueView | null;
  /** How many objects share the stock, when more than one. */
  shards?: number;
}

export interface QueueView {
  opensAt: string;
  seedCommitment: string;
  /** Null before `startsAt`. */
  seed: string | null;
  joined: number;
  admittedThrough: number;
  /** Admissions that ran out unused. */
  lapsed: number;
  margin: number;
  admitSeconds: number;
}

export interface SinkView {
  state: SinkState;
  delivered: number;
  lastError: string | null;
  lastDeliveredAt: string | null;
  /** Rows this sink still has to take, and the age of the oldest. */
  backlog: number;
  oldestPendingAgeMs: number;
  deadLetters: number;
}

export interface StatsView {
  event: EventView;
  claims: { issued: number; rejected: Record<string, number> };
  outbox: { pending: number; oldestAgeMs: number; deadLetters: number };
  /** One entry per registered sink (domain/sinks.ts). */
  sinks: Record<SinkName, SinkView>;
}

/**
 * The event's moving parts as of `asOf` (the object's clock). `version` only grows (issued plus
 * pause changes), so an isolate keeps the newest copy whatever order answers arrive in.
 */
export interface EventCounters extends LedgerCounters {
  version: number;
  asOf: number;
  /** The waiting room's state, for an event that has one. */
  room?: RoomState;
}

/**
 * What an isolate needs to answer reads and certain refusals without the object: the
 * definition, the counters, and, once nobody can get a coupon any more, the filter of holders.
 */
export interface EventSnapshot extends EventCounters {
  def: EventDefinition;
  holders: HoldersFilter | null;
}

export type DefineResult =
  | { outcome: "created" | "unchanged"; snapshot: EventSnapshot }
  | { outcome: "conflict"; snapshot: EventSnapshot };

/**
 * One user's answer. `json` is `JSON.stringify(coupon)`, built once in the object, so the Worker
 * sends it as the response body as is.
 */
export type ClaimDecision =
  | { outcome: "issued" | "existing"; coupon: CouponView; json: string }
  | { outcome: "refused"; refusal: Refusal };

export type ClaimResult = ClaimDecision & { counters: EventCounters; holders?: HoldersFilter };

export type ClaimAnswer = ClaimResult | { outcome: "unknown-event" };

/** The most claims one call to an event's object may carry (`claimBatch`). */
export const MAX_CLAIM_BATCH = 256;

/**
 * A batch's answer: `results[i]` answers `userIds[i]`. A user twice in one batch gets the same
 * coupon (`issued` first, `existing` after). The counters are as of after the whole batch.
 */
export type ClaimBatchAnswer =
  | { outcome: "unknown-event" }
  | {
      outcome: "decided";
      results: ClaimDecision[];
      counters: EventCounters;
      holders?: HoldersFilter;
    };

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function eventView(
  def: EventDefinition,
  counters: LedgerCounters & { room?: RoomState },
  now: number,
): EventView {
  const released = releasedAt(def, now);
  const next = nextWaveAt(def, now);
  return {
    id: def.id,
    name: def.name,
    state: stateOf(def, counters, now),
    totalStock: def.totalStock,
    released,
    issued: counters.issued,
    remaining: Math.max(0, released - counters.issued),
    startsAt: iso(def.startsAt),
    endsAt: isoOrNull(def.endsAt),
    couponExpiresAt: isoOrNull(def.couponExpiresAt),
    waves: def.waves.map((w) => ({ at: iso(w.at), quantity: w.quantity })),
    nextWaveAt: isoOrNull(next),
    ...(def.region ? { region: def.region } : {}),
    ...(def.jurisdiction ? { jurisdiction: def.jurisdiction } : {}),
    queue: queueView(def, counters.room, now),
    ...(def.shards !== undefined ? { shards: def.shards } : {}),
  };
}

function queueView(
  def: EventDefinition,
  room: RoomState | undefined,
  now: number,
): QueueView | null {
  if (!def.queue) return null;
  return {
    opensAt: iso(def.queue.opensAt),
    seedCommitment: room?.commitment ?? "",
    // The snapshot carries the seed once the object's clock passed startsAt; the edge's may lag.
    seed: now >= def.startsAt ? (room?.seed ?? null) : null,
    joined: room?.joined ?? 0,
    admittedThrough: room?.admittedThrough ?? 0,
    lapsed: room?.lapsed ?? 0,
    margin: def.queue.margin,
    admitSeconds: def.queue.admitSeconds,
  };
}

export type CouponRow = {
  coupon_id: string;
  user_id: string;
  issued_at: number;
  expires_at: number | null;
  status: string;
  redeemed_at: number | null;
  order_id: string | null;
  held_order_id: string | null;
  held_until: number | null;
  restored_order_id: string | null;
  /** Grows by one with every change: the sinks never move a coupon backwards. */
  version: number;
};

export function couponView(eventId: string, row: CouponRow, now: number): CouponView {
  const redeemed = row.status === "redeemed";
  const expired = !redeemed && row.expires_at !== null && row.expires_at <= now;
  const held = !redeemed && !expired && row.held_order_id !== null && (row.held_until ?? 0) > now;
  return {
    id: row.coupon_id,
    eventId,
    userId: row.user_id,
    status: expired ? "expired" : redeemed ? "redeemed" : "issued",
    issuedAt: iso(row.issued_at),
    expiresAt: isoOrNull(row.expires_at),
    redeemedAt: isoOrNull(row.redeemed_at),
    orderId: row.order_id,
    hold:
      held && row.held_order_id !== null && row.held_until !== null
        ? { orderId: row.held_order_id, expiresAt: iso(row.held_until) }
        : null,
  };
}
