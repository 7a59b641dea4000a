/**
 * Redemption keys are bounded per coupon and expire after 24 h: a stream of fresh
 * `Idempotency-Key`s (even for a redeem that changes nothing) never grows the object's storage,
 * and a key is remembered, with its order, for as long as it is kept.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import { IDEMPOTENCY_KEY_TTL_MS, IDEMPOTENCY_KEYS_PER_COUPON } from "../../domain/identifiers.ts";
import type { CouponEvent } from "../../durable-objects/coupon-event.ts";
import { api, asUser, claim, createEvent, eventStub, useClock } from "./helpers.ts";

const ADDRESS = { "CF-Connecting-IP": "198.51.100.26" };

async function keysOf(eventId: string, couponId?: string): Promise<string[]> {
  return runInDurableObject(eventStub(eventId), (_instance: CouponEvent, state) =>
    state.storage.sql
      .exec<{ key: string }>(
        couponId === undefined
          ? "SELECT key FROM idempotency ORDER BY created_at, rowid"
          : "SELECT key FROM idempotency WHERE coupon_id = ? ORDER BY created_at, rowid",
        ...(couponId === undefined ? [] : [couponId]),
      )
      .toArray()
      .map((r) => r.key),
  );
}

async function setup(user: string, clock: ManualClock) {
  const event = await createEvent({ totalStock: 5 });
  await useClock(event.id, clock);
  const coupon = (await (await claim(event.id, user)).json<{ id: string }>()).id;
  const stub = eventStub(event.id);
  const redeem = (key: string, orderId = "order-1") =>
    stub.redeem({ couponId: coupon, userId: user, orderId, idempotencyKey: key });
  return { event, coupon, stub, redeem };
}

describe("redemption keys", () => {
  it(`fresh keys on one coupon: at most ${IDEMPOTENCY_KEYS_PER_COUPON} kept (the newest), every answer the same coupon`, async () => {
    const clock = new ManualClock(Date.now());
    const { event, coupon, redeem } = await setup("key-flood", clock);
    const first = await redeem("key-0");
    expect(first).toMatchObject({ outcome: "ok" });
    for (let i = 1; i < 200; i++) {
      clock.advance(1);
      // Already redeemed for this order: nothing changes, and the key must not add up.
      expect(await redeem(`key-${i}`)).toEqual(first);
    }
    const kept = await keysOf(event.id, coupon);
    expect(kept).toHaveLength(IDEMPOTENCY_KEYS_PER_COUPON);
    expect(kept.at(-1)).toBe("key-199");
    expect(kept[0]).toBe(`key-${200 - IDEMPOTENCY_KEYS_PER_COUPON}`);

    // A kept key is still tied to its order; a dropped one is a new key (the coupon decides).
    expect(await redeem("key-199", "order-2")).toEqual({
      outcome: "refused",
      slug: "idempotency-key-reused",
    });
    expect(await redeem("key-0", "order-2")).toEqual({
      outcome: "refused",
      slug: "already-redeemed",
    });
    // Over HTTP too: the kept key answers the same coupon.
    const res = await fetchRedeem(coupon, "key-flood", "key-199", "order-1");
    expect(res.status).toBe(200);
    expect(await keysOf(event.id, coupon)).toEqual(kept);
  });

  it("a key expires after 24 h: kept at 24 h less 1 ms, gone after, for every coupon of the event", async () => {
    const clock = new ManualClock(Date.now());
    const { event, coupon, stub, redeem } = await setup("key-expiry", clock);
    expect(await redeem("old-key")).toMatchObject({ outcome: "ok" });
    // Another coupon of the same event, redeemed later: its fresh key sweeps expired ones.
    const other = (await (await claim(event.id, "key-expiry-2")).json<{ id: string }>()).id;

    clock.advance(IDEMPOTENCY_KEY_TTL_MS - 1);
    expect(await redeem("old-key", "order-2")).toEqual({
      outcome: "refused",
      slug: "idempotency-key-reused",
    });
    expect(await keysOf(event.id)).toEqual(["old-key"]);

    clock.advance(1);
    expect(
      await stub.redeem({
        couponId: other,
        userId: "key-expiry-2",
        orderId: "order-9",
        idempotencyKey: "new-key",
      }),
    ).toMatchObject({ outcome: "ok" });
    expect(await keysOf(event.id)).toEqual(["new-key"]);
    // The expired key is a new key now: the coupon itself refuses another order.
    expect(await redeem("old-key", "order-2")).toEqual({
      outcome: "refused",
      slug: "already-redeemed",
    });
    expect(await keysOf(event.id, coupon)).toEqual([]);
  });
});

async function fetchRedeem(couponId: string, user: string, key: string, orderId: string) {
  return api(`/v1/coupons/${couponId}/redeem`, {
    method: "POST",
    headers: {
      ...(await asUser(user)),
      ...ADDRESS,
      "Content-Type": "application/json",
      "Idempotency-Key": key,
    },
    body: JSON.stringify({ orderId }),
  });
}
