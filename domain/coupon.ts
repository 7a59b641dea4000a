/**
 * A coupon as the API shows it: what the views answer, the sinks' records carry and MySQL stores.
 * Its own file, below both domain/views.ts and domain/sinks.ts (which import each other's types
 * otherwise: test/unit/layers.test.ts forbids such a circle).
 */

export const COUPON_STATUSES = ["issued", "redeemed", "expired"] as const;

export type CouponStatus = (typeof COUPON_STATUSES)[number];

export interface CouponView {
  id: string;
  eventId: string;
  userId: string;
  status: CouponStatus;
  issuedAt: string;
  expiresAt: string | null;
  redeemedAt: string | null;
  orderId: string | null;
  /** The checkout hold in force, if any (beyond the contract: a field it allows adding). */
  hold: { orderId: string; expiresAt: string } | null;
}
