import { EVENT_ID_CHARS } from "./identifiers.ts";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * An unguessable coupon id that routes itself: `cpn_` + 22 base62 characters from the platform
 * CSPRNG (about 131 bits), `.`, and the event's id, so the Worker finds the event's object from
 * the id alone. Guessing one means guessing the 131 bits; the event id is public anyway. Ids of
 * the first format (no `.<event>` suffix) are still understood (their event is looked up). A
 * sharded event's coupon ids also name their shard (`.<event>.s<k>`), so redeem, hold and
 * restore reach it from the id alone.
 */
export function newCouponId(eventId: string, shard?: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let id = "cpn_";
  for (const byte of bytes) {
    // 62 * 4 = 248: rejecting bytes >= 248 would remove the tiny bias; a 2^-5 skew on one
    // symbol out of 62 costs < 0.1 bit of the 131, so plain modulo is kept for speed.
    id += ALPHABET[byte % 62];
  }
  return shard === undefined ? `${id}.${eventId}` : `${id}.${eventId}.s${shard}`;
}

/** Either format (the event suffix captured): what a coupon id in a URL must look like. */
export const COUPON_ID_PATTERN = new RegExp(
  `^cpn_[0-9A-Za-z]{22}(?:\\.(${EVENT_ID_CHARS})(?:\\.s(0|[1-9][0-9]?))?)?$`,
);

/** The event a coupon id names; "legacy" for an id of the first format; null when malformed. */
export function eventOfCoupon(couponId: string): string | "legacy" | null {
  const match = COUPON_ID_PATTERN.exec(couponId);
  if (!match) return null;
  return match[1] ?? "legacy";
}

/** The shard a coupon id names (null: an unsharded event's id, or malformed). */
export function shardOfCoupon(couponId: string): number | null {
  const shard = COUPON_ID_PATTERN.exec(couponId)?.[2];
  return shard === undefined ? null : Number(shard);
}
