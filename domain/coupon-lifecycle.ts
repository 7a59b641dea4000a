/**
 * A coupon's life after issue, as pure rules of (its row, the request, now), like ledger.ts for
 * stock: redeem at checkout, hold during payment, restore when an order is cancelled. The object
 * applies a decision and writes its record in one synchronous transaction.
 *
 *   issued ──hold(order)──▶ issued + hold ──redeem(same order)──▶ redeemed
 *     ▲          │ TTL lapses (alarm) / hold again: same order only     │
 *     └──────────┴─────────────── restore(order) ◀──────────────────────┘
 *   (an unredeemed coupon past its expiry reads `expired` and can be neither held nor redeemed)
 */

import type { CouponStatus, CouponView } from "./coupon.ts";
import type { CouponRecordType } from "./sinks.ts";
import type { CouponRow } from "./views.ts";

/** What a redeem, hold or restore answers over RPC. */
export type LifecycleAnswer =
  | { outcome: "ok"; coupon: CouponView }
  | { outcome: "refused"; slug: LifecycleRefusal | "idempotency-key-reused" }
  | { outcome: "unknown-event" };

export type LifecycleRefusal =
  | "not-found"
  | "already-redeemed"
  | "expired"
  | "held"
  | "not-redeemed";

/** What a change writes to the coupon's row; null fields are cleared. */
export interface CouponChange {
  /** Issue is the claim's record; every later change is one of the others. */
  type: Exclude<CouponRecordType, "coupon.issued">;
  /** As stored: `expired` is never stored, it is read from the expiry. */
  status: Exclude<CouponStatus, "expired">;
  redeemed_at: number | null;
  order_id: string | null;
  held_order_id: string | null;
  held_until: number | null;
  restored_order_id: string | null;
}

export type Decision =
  | { kind: "change"; change: CouponChange }
  /** Already in the state asked for: answer the coupon as it is, write nothing. */
  | { kind: "same" }
  | { kind: "refused"; slug: LifecycleRefusal };

export const isExpired = (row: CouponRow, now: number): boolean =>
  row.status !== "redeemed" && row.expires_at !== null && row.expires_at <= now;

/** The hold in force at `now`, if any (a lapsed hold no longer counts, alarm or not). */
export function activeHold(row: CouponRow, now: number): { orderId: string; until: number } | null {
  return row.held_order_id !== null && row.held_until !== null && row.held_until > now
    ? { orderId: row.held_order_id, until: row.held_until }
    : null;
}

const keep = (row: CouponRow) => ({
  redeemed_at: row.redeemed_at,
  order_id: row.order_id,
  held_order_id: row.held_order_id,
  held_until: row.held_until,
  restored_order_id: row.restored_order_id,
});

/** Why `orderId` may not use this unredeemed coupon now (expired, or held for another order). */
function blocked(row: CouponRow, orderId: string, now: number): Decision | null {
  if (isExpired(row, now)) return { kind: "refused", slug: "expired" };
  const hold = activeHold(row, now);
  return hold && hold.orderId !== orderId ? { kind: "refused", slug: "held" } : null;
}

export function decideRedeem(row: CouponRow, orderId: string, now: number): Decision {
  if (row.status === "redeemed") {
    return row.order_id === orderId
      ? { kind: "same" }
      : { kind: "refused", slug: "already-redeemed" };
  }
  const refusal = blocked(row, orderId, now);
  if (refusal) return refusal;
  return {
    kind: "change",
    change: {
      ...keep(row),
      type: "coupon.redeemed",
      status: "redeemed",
      redeemed_at: now,
      order_id: orderId,
      held_order_id: null,
      held_until: null,
    },
  };
}

/** Reserves the coupon for `orderId` until `now + ttlMs`; the same order may extend its hold. */
export function decideHold(row: CouponRow, orderId: string, ttlMs: number, now: number): Decision {
  if (row.status === "redeemed") return { kind: "refused", slug: "already-redeemed" };
  const refusal = blocked(row, orderId, now);
  if (refusal) return refusal;
  return {
    kind: "change",
    change: {
      ...keep(row),
      type: "coupon.held",
      status: "issued",
      held_order_id: orderId,
      held_until: now + ttlMs,
    },
  };
}

/** An order was cancelled: its coupon is usable again. Repeating it is harmless. */
export function decideRestore(row: CouponRow, orderId: string): Decision {
  if (row.status === "redeemed") {
    if (row.order_id !== orderId) return { kind: "refused", slug: "not-redeemed" };
    return {
      kind: "change",
      change: {
        ...keep(row),
        type: "coupon.restored",
        status: "issued",
        redeemed_at: null,
        order_id: null,
        restored_order_id: orderId,
      },
    };
  }
  return row.restored_order_id === orderId
    ? { kind: "same" }
    : { kind: "refused", slug: "not-redeemed" };
}

/** A hold whose time is up: released by the alarm, so MySQL and Kafka hear of it. */
export function decideHoldLapse(row: CouponRow, now: number): Decision {
  if (row.held_order_id === null || activeHold(row, now)) return { kind: "same" };
  return {
    kind: "change",
    change: {
      ...keep(row),
      type: "coupon.hold-released",
      status: "issued",
      held_order_id: null,
      held_until: null,
    },
  };
}
