import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventStub,
  problemOf,
  useClock,
} from "./helpers.ts";

interface Coupon {
  id: string;
  eventId: string;
  userId: string;
  status: string;
  orderId: string | null;
  redeemedAt: string | null;
  hold: { orderId: string; expiresAt: string } | null;
}

const post = async (path: string, body: unknown, headers: Record<string, string>) =>
  api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const redeem = async (couponId: string, user: string, orderId: string, key: string) =>
  post(
    `/v1/coupons/${couponId}/redeem`,
    { orderId },
    { ...(await asUser(user)), "Idempotency-Key": key },
  );

const hold = async (couponId: string, user: string, orderId: string, ttlSeconds: number) =>
  post(`/v1/coupons/${couponId}/hold`, { orderId, ttlSeconds }, await asUser(user));

const restore = (couponId: string, orderId: string) =>
  post(`/v1/coupons/${couponId}/restore`, { orderId }, admin());

async function couponOf(user: string, overrides: Parameters<typeof createEvent>[0] = {}) {
  const event = await createEvent({ totalStock: 5, ...overrides });
  const coupon = await (await claim(event.id, user)).json<Coupon>();
  return { event, coupon };
}

describe("coupon ids route themselves", () => {
  it("a coupon id names its event and stays unguessable", async () => {
    const { event, coupon } = await couponOf("router");
    expect(coupon.id).toMatch(new RegExp(`^cpn_[0-9A-Za-z]{22}\\.${event.id}$`));
    const res = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser("router") });
    expect(await res.json<Coupon>()).toEqual(coupon);
  });

  it("an unknown, malformed or foreign coupon is 404, never 403", async () => {
    const { event, coupon } = await couponOf("owner");
    const foreign = await redeem(coupon.id, "intruder", "o-1", "k-1");
    expect(foreign.status).toBe(404);
    const guessed = `cpn_${"A".repeat(22)}.${event.id}`;
    expect((await redeem(guessed, "owner", "o-1", "k-1")).status).toBe(404);
    expect((await redeem(`cpn_${"B".repeat(22)}.no-such-event`, "owner", "o", "k")).status).toBe(
      404,
    );
    expect((await api("/v1/coupons/not-a-coupon", { headers: await asUser("owner") })).status).toBe(
      404,
    );
    // Nothing changed for the owner.
    const mine = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser("owner") });
    expect((await mine.json<Coupon>()).status).toBe("issued");
  });
});

describe("redeem", () => {
  it("two orders racing for one coupon: exactly one 200, one 409 already-redeemed", async () => {
    const { coupon } = await couponOf("racer");
    const [a, b] = await Promise.all([
      redeem(coupon.id, "racer", "order-a", "key-a"),
      redeem(coupon.id, "racer", "order-b", "key-b"),
    ]);
    const statuses = [a?.status, b?.status].sort();
    expect(statuses).toEqual([200, 409]);
    const loser = a?.status === 409 ? a : b;
    if (!loser) throw new Error("no answer");
    expect((await problemOf(loser)).type).toBe("/problems/already-redeemed");
  });

  it("a retry with the same key answers the same; the same key with another order is 422; no key is 400", async () => {
    const { coupon } = await couponOf("retrier");
    const first = await redeem(coupon.id, "retrier", "order-1", '"key-1"');
    expect(first.status).toBe(200);
    const redeemed = await first.json<Coupon>();
    expect(redeemed).toMatchObject({ status: "redeemed", orderId: "order-1" });
    const again = await redeem(coupon.id, "retrier", "order-1", "key-1");
    expect(again.status).toBe(200);
    expect(await again.json<Coupon>()).toEqual(redeemed);
    const reused = await redeem(coupon.id, "retrier", "order-2", "key-1");
    expect((await problemOf(reused)).type).toBe("/problems/idempotency-key-reused");
    expect(reused.status).toBe(422);
    const noKey = await post(
      `/v1/coupons/${coupon.id}/redeem`,
      { orderId: "order-1" },
      await asUser("retrier"),
    );
    expect(noKey.status).toBe(400);
    expect((await problemOf(noKey)).type).toBe("/problems/invalid-request");
  });

  it("after expiry: 410 expired", async () => {
    const now = Date.now();
    const { event, coupon } = await couponOf("late", {
      couponExpiresAt: new Date(now + 60_000).toISOString(),
    });
    const clock = new ManualClock(now);
    await useClock(event.id, clock);
    clock.advance(61_000);
    const res = await redeem(coupon.id, "late", "order-1", "k");
    expect(res.status).toBe(410);
    expect((await problemOf(res)).type).toBe("/problems/expired");
    expect((await hold(coupon.id, "late", "order-1", 60)).status).toBe(410);
  });

  it("restore: back to issued (idempotent), then redeemable again; a restore for another order is 409", async () => {
    const { coupon } = await couponOf("canceller");
    expect((await redeem(coupon.id, "canceller", "order-1", "k1")).status).toBe(200);
    const wrong = await restore(coupon.id, "order-9");
    expect(wrong.status).toBe(409);
    expect((await problemOf(wrong)).type).toBe("/problems/not-redeemed");
    const restored = await restore(coupon.id, "order-1");
    expect(restored.status).toBe(200);
    expect(await restored.json<Coupon>()).toMatchObject({
      status: "issued",
      orderId: null,
      redeemedAt: null,
    });
    expect((await restore(coupon.id, "order-1")).status).toBe(200);
    const user = await restore(coupon.id, "order-1").then(async () =>
      post(`/v1/coupons/${coupon.id}/restore`, { orderId: "order-1" }, await asUser("canceller")),
    );
    expect(user.status).toBe(403);
    const second = await redeem(coupon.id, "canceller", "order-2", "k2");
    expect(second.status).toBe(200);
    expect((await second.json<Coupon>()).orderId).toBe("order-2");
  });
});

describe("checkout hold", () => {
  it("a hold blocks other orders, its own order redeems it, and it lapses by the alarm after its TTL", async () => {
    const now = Date.now();
    const { event, coupon } = await couponOf("buyer");
    const clock = new ManualClock(now);
    await useClock(event.id, clock);

    const held = await hold(coupon.id, "buyer", "order-1", 600);
    expect(held.status).toBe(200);
    expect((await held.json<Coupon>()).hold).toEqual({
      orderId: "order-1",
      expiresAt: new Date(now + 600_000).toISOString(),
    });
    const other = await redeem(coupon.id, "buyer", "order-2", "k2");
    expect(other.status).toBe(409);
    expect((await problemOf(other)).type).toBe("/problems/held");
    expect((await hold(coupon.id, "buyer", "order-2", 60)).status).toBe(409);

    // A held coupon survives a restart of its object.
    await evictDurableObject(eventStub(event.id));
    await useClock(event.id, clock);
    const read = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser("buyer") });
    expect((await read.json<Coupon>()).hold?.orderId).toBe("order-1");

    // The TTL passes; the alarm releases the hold (driven here, not waited for).
    clock.advance(600_001);
    expect(await runDurableObjectAlarm(eventStub(event.id))).toBe(true);
    const after = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser("buyer") });
    expect((await after.json<Coupon>()).hold).toBeNull();
    const redeemed = await redeem(coupon.id, "buyer", "order-2", "k3");
    expect(redeemed.status).toBe(200);
  });

  it("redeem for the held order confirms it", async () => {
    const { coupon } = await couponOf("payer");
    expect((await hold(coupon.id, "payer", "order-7", 60)).status).toBe(200);
    const res = await redeem(coupon.id, "payer", "order-7", "k7");
    expect(res.status).toBe(200);
    expect(await res.json<Coupon>()).toMatchObject({
      status: "redeemed",
      orderId: "order-7",
      hold: null,
    });
  });
});
