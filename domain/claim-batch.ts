import type { CouponView } from "./coupon.ts";
import { type EventDefinition, type LedgerCounters, type Refusal, refuse } from "./ledger.ts";
import { type ClaimDecision, type CouponRow, couponView } from "./views.ts";

/** What a batch of claims comes to: each user's answer and the coupons to write. */
export interface ClaimPlan {
  /** `results[i]` answers `userIds[i]`. */
  results: ClaimDecision[];
  /** The new coupons, in arrival order: the only thing the batch writes. */
  fresh: CouponRow[];
}

/**
 * Decides claims in arrival order, from the ledger's rules and the users who already hold a
 * coupon (`held`, by user id), with nothing written: the caller stores `fresh` and the counter.
 * A holder gets its coupon back whatever the stock; each new coupon counts before the next user
 * is decided, so stock running out mid-batch refuses later newcomers exactly as it would one
 * call at a time. A user twice in the batch gets the same coupon: `issued` first, `existing`
 * after. In an event with a waiting room, a newcomer must also be admitted (`admission`).
 */
export function planClaims(
  def: EventDefinition,
  counters: LedgerCounters,
  now: number,
  userIds: readonly string[],
  held: ReadonlyMap<string, CouponRow>,
  newCouponId: () => string,
  /** A waiting room's word on a newcomer (null: admitted); holders never reach it. */
  admission: (userId: string) => Refusal | null = () => null,
): ClaimPlan {
  const decided = new Map<string, ClaimDecision>();
  const fresh: CouponRow[] = [];
  const after: LedgerCounters = { ...counters };
  const results = userIds.map((userId): ClaimDecision => {
    const earlier = decided.get(userId);
    if (earlier) {
      return earlier.outcome === "issued" ? { ...earlier, outcome: "existing" } : earlier;
    }
    let decision: ClaimDecision;
    const row = held.get(userId);
    const refusal = row ? null : (refuse(def, after, now) ?? admission(userId));
    if (row) decision = couponDecision("existing", couponView(def.id, row, now));
    else if (refusal) decision = { outcome: "refused", refusal };
    else {
      const issued = issuedRow(def, userId, newCouponId(), now);
      fresh.push(issued);
      after.issued += 1;
      decision = couponDecision("issued", couponView(def.id, issued, now));
    }
    decided.set(userId, decision);
    return decision;
  });
  return { results, fresh };
}

/** A coupon as it is issued: version 1, nothing happened to it yet. */
export function issuedRow(
  def: Pick<EventDefinition, "couponExpiresAt">,
  userId: string,
  couponId: string,
  now: number,
): CouponRow {
  return {
    coupon_id: couponId,
    user_id: userId,
    issued_at: now,
    expires_at: def.couponExpiresAt,
    status: "issued",
    redeemed_at: null,
    order_id: null,
    held_order_id: null,
    held_until: null,
    restored_order_id: null,
    version: 1,
  };
}

/** The coupon and its JSON, built once: the Worker sends `json` as the body as is. */
function couponDecision(outcome: "issued" | "existing", coupon: CouponView): ClaimDecision {
  return { outcome, coupon, json: JSON.stringify(coupon) };
}
