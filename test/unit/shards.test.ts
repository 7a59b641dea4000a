import { describe, expect, it } from "vitest";
import {
  COUPON_ID_PATTERN,
  eventOfCoupon,
  newCouponId,
  shardOfCoupon,
} from "../../domain/coupon-id.ts";
import { stateOf } from "../../domain/ledger.ts";
import {
  couponObjectName,
  grantSize,
  leaseWant,
  MAX_SHARDS,
  shardName,
  shardOf,
  shareDefinition,
} from "../../domain/shards.ts";

const def = {
  id: "flash",
  name: "Flash",
  totalStock: 1_000,
  startsAt: 0,
  endsAt: null,
  couponExpiresAt: null,
  waves: [
    { at: 0, quantity: 400 },
    { at: 60_000, quantity: 600 },
  ],
  shards: 16,
};

describe("shards of an event", () => {
  it("a user always lands on the same shard, and users spread over all of them", () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const k = shardOf("flash", `user-${i}`, 16);
      expect(shardOf("flash", `user-${i}`, 16)).toBe(k);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    for (const n of counts) expect(n).toBeGreaterThan(800);
    expect(shardOf("flash", "anyone", 1)).toBe(0);
  });

  it("coupon ids name their shard and route by the id alone", () => {
    const id = newCouponId("flash", 63);
    expect(id).toMatch(COUPON_ID_PATTERN);
    expect(id.length).toBeLessThanOrEqual(4 + 22 + 1 + 64 + 4);
    expect(eventOfCoupon(id)).toBe("flash");
    expect(shardOfCoupon(id)).toBe(63);
    expect(shardOfCoupon(newCouponId("flash"))).toBeNull();
    expect(COUPON_ID_PATTERN.test(`${newCouponId("flash")}.s064`)).toBe(false);
    expect(couponObjectName("flash", 3, 16)).toBe(shardName("flash", 3));
    expect(couponObjectName("flash", 16, 16)).toBeNull();
    expect(couponObjectName("flash", null, 16)).toBeNull();
    expect(couponObjectName("flash", null, 1)).toBe("flash");
    expect(couponObjectName("flash", 0, 1)).toBeNull();
    expect(MAX_SHARDS).toBe(64);
  });

  it("a shard plans against its leased stock only: out of it means ask, never the waves", () => {
    const share = shareDefinition(def, 5);
    expect(stateOf(share, { issued: 4, paused: false }, 1)).toBe("open");
    expect(stateOf(share, { issued: 5, paused: false }, 1)).toBe("sold-out");
    expect(stateOf(share, { issued: 0, paused: false }, -1)).toBe("scheduled");
    expect(share.shards).toBeUndefined();
  });

  it("grants never exceed the pool, and near the end spread over the shards", () => {
    expect(grantSize(100, 0, 16)).toBe(0);
    expect(grantSize(100, 10_000, 16)).toBe(100);
    expect(grantSize(100, 160, 16)).toBe(10);
    expect(grantSize(100, 7, 16)).toBe(1);
    for (let pool = 1; pool < 500; pool += 7) {
      expect(grantSize(64, pool, 16)).toBeLessThanOrEqual(pool);
    }
    expect(leaseWant(def, 0)).toBe(16);
    expect(leaseWant(def, 100)).toBe(50);
    expect(leaseWant(def, 1_000_000)).toBe(63);
  });
});
