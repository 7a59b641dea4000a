import { describe, expect, it } from "vitest";
import { issuedRow } from "../../domain/claim-batch.ts";
import {
  activeHold,
  decideHold,
  decideHoldLapse,
  decideRedeem,
  decideRestore,
} from "../../domain/coupon-lifecycle.ts";
import type { CouponRow } from "../../domain/views.ts";

const T = 1_000_000;
const row = (over: Partial<CouponRow> = {}): CouponRow => ({
  ...issuedRow({ couponExpiresAt: T + 10_000 }, "u", "cpn_x", T),
  ...over,
});

describe("the coupon lifecycle rules", () => {
  it("redeem: issued → redeemed; the same order again is the same; another order is already-redeemed", () => {
    const d = decideRedeem(row(), "o1", T + 1);
    expect(d).toMatchObject({
      kind: "change",
      change: { type: "coupon.redeemed", status: "redeemed", order_id: "o1", redeemed_at: T + 1 },
    });
    const redeemed = row({ status: "redeemed", order_id: "o1", redeemed_at: T + 1 });
    expect(decideRedeem(redeemed, "o1", T + 2)).toEqual({ kind: "same" });
    expect(decideRedeem(redeemed, "o2", T + 2)).toEqual({
      kind: "refused",
      slug: "already-redeemed",
    });
  });

  it("expiry: neither redeem nor hold past expiresAt; a redeemed coupon never expires", () => {
    expect(decideRedeem(row(), "o1", T + 10_000)).toEqual({ kind: "refused", slug: "expired" });
    expect(decideHold(row(), "o1", 60_000, T + 10_000)).toEqual({
      kind: "refused",
      slug: "expired",
    });
    const redeemed = row({ status: "redeemed", order_id: "o1" });
    expect(decideRedeem(redeemed, "o1", T + 20_000)).toEqual({ kind: "same" });
  });

  it("hold: blocks other orders until it lapses; the same order extends it and redeems it", () => {
    const held = row({ held_order_id: "o1", held_until: T + 5_000 });
    expect(activeHold(held, T + 4_999)).toEqual({ orderId: "o1", until: T + 5_000 });
    expect(activeHold(held, T + 5_000)).toBeNull();
    expect(decideRedeem(held, "o2", T + 1)).toEqual({ kind: "refused", slug: "held" });
    expect(decideHold(held, "o2", 1_000, T + 1)).toEqual({ kind: "refused", slug: "held" });
    expect(decideHold(held, "o1", 1_000, T + 1)).toMatchObject({
      kind: "change",
      change: { held_until: T + 1_001 },
    });
    expect(decideRedeem(held, "o1", T + 1)).toMatchObject({
      kind: "change",
      change: { held_order_id: null, held_until: null },
    });
    // Lapsed: another order may redeem, and the alarm writes a hold-released record.
    expect(decideRedeem(held, "o2", T + 5_000)).toMatchObject({ kind: "change" });
    expect(decideHoldLapse(held, T + 4_999)).toEqual({ kind: "same" });
    expect(decideHoldLapse(held, T + 5_000)).toMatchObject({
      kind: "change",
      change: { type: "coupon.hold-released", held_order_id: null },
    });
  });

  it("restore: only for the order it is redeemed for; repeating it is the same", () => {
    const redeemed = row({ status: "redeemed", order_id: "o1", redeemed_at: T });
    expect(decideRestore(redeemed, "o2")).toEqual({ kind: "refused", slug: "not-redeemed" });
    const d = decideRestore(redeemed, "o1");
    expect(d).toMatchObject({
      kind: "change",
      change: {
        type: "coupon.restored",
        status: "issued",
        order_id: null,
        redeemed_at: null,
        restored_order_id: "o1",
      },
    });
    expect(decideRestore(row({ restored_order_id: "o1" }), "o1")).toEqual({ kind: "same" });
    expect(decideRestore(row(), "o1")).toEqual({ kind: "refused", slug: "not-redeemed" });
  });
});
