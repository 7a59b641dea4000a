/**
 * Strings that are not well-formed Unicode (a lone surrogate has no UTF-8 form: it would be
 * stored as U+FFFD and then no longer match itself) are refused with 400 at the edge, and the
 * object refuses them again over RPC. Every refusal leaves the coupon, its outbox and the event
 * as they were; well-formed text outside the BMP round-trips.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CouponEvent } from "../../durable-objects/coupon-event.ts";
import { prng } from "../../loadtest/prng.ts";
import { drained, stats } from "./cloud.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventInput,
  eventStub,
  problemOf,
} from "./helpers.ts";

const ADDRESS = { "CF-Connecting-IP": "198.51.100.23" };

/** Lone surrogates wherever they can sit, alone and among well-formed text. */
const ILL_FORMED = [
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "order-\ud83d",
  "\ude00-order",
  "a\ud800b",
  "\udc00\ud800", // a pair in the wrong order
  "😀\ud83d",
  "\ude00😀",
  "주문\udfff번호",
  `${"x".repeat(127)}\ud800`,
];

const post = async (path: string, body: unknown, headers: Record<string, string>) =>
  api(path, {
    method: "POST",
    // JSON.stringify writes a lone surrogate as a \u escape: valid UTF-8 JSON on the wire.
    headers: { "Content-Type": "application/json", ...ADDRESS, ...headers },
    body: JSON.stringify(body),
  });

async function expectInvalid(res: Response, what: string): Promise<void> {
  expect(res.status, what).toBe(400);
  const problem = await problemOf(res);
  expect(problem.type, what).toBe("/problems/invalid-request");
  expect(problem.errors?.length, what).toBeGreaterThan(0);
}

describe("ill-formed Unicode is refused at the edge", () => {
  it("in orderId (redeem, hold, restore) and in an event's name: 400, and nothing changes", async () => {
    const event = await createEvent({ totalStock: 3 });
    const user = await asUser("unicode-owner");
    const coupon = (await (await claim(event.id, "unicode-owner")).json<{ id: string }>()).id;
    // A redeemed coupon too, so that restore has something it could change.
    const other = await createEvent({ totalStock: 3 });
    const redeemed = (await (await claim(other.id, "unicode-owner")).json<{ id: string }>()).id;
    const ok = await post(
      `/v1/coupons/${redeemed}/redeem`,
      { orderId: "o-1" },
      { ...user, "Idempotency-Key": "k-1" },
    );
    expect(ok.status).toBe(200);
    await Promise.all([drained(event.id), drained(other.id)]);
    const observe = async () => ({
      a: await (await api(`/v1/coupons/${coupon}`, { headers: { ...user, ...ADDRESS } })).json(),
      b: await (await api(`/v1/coupons/${redeemed}`, { headers: { ...user, ...ADDRESS } })).json(),
      statsA: await stats(event.id),
      statsB: await stats(other.id),
    });
    const before = await observe();

    for (const orderId of ILL_FORMED) {
      const what = JSON.stringify(orderId);
      await expectInvalid(
        await post(
          `/v1/coupons/${coupon}/redeem`,
          { orderId },
          { ...user, "Idempotency-Key": `key-${crypto.randomUUID()}` },
        ),
        `redeem ${what}`,
      );
      await expectInvalid(
        await post(`/v1/coupons/${coupon}/hold`, { orderId, ttlSeconds: 60 }, user),
        `hold ${what}`,
      );
      await expectInvalid(
        await post(`/v1/coupons/${redeemed}/restore`, { orderId }, admin()),
        `restore ${what}`,
      );
      const input = eventInput({ name: orderId });
      await expectInvalid(await post("/v1/events", input, admin()), `event name ${what}`);
      expect((await api(`/v1/events/${input.id}`, { headers: ADDRESS })).status).toBe(404);
    }
    expect(await observe()).toEqual(before);
  });

  it("well-formed text outside the BMP matches itself: a retried redeem is 200, a restore for that order 200", async () => {
    const event = await createEvent({ totalStock: 3 });
    const user = await asUser("astral-owner");
    const coupon = (await (await claim(event.id, "astral-owner")).json<{ id: string }>()).id;
    const orderId = "주문-😀-𝄞";
    const redeem = () =>
      post(`/v1/coupons/${coupon}/redeem`, { orderId }, { ...user, "Idempotency-Key": "k-astral" });
    const first = await redeem();
    expect(first.status).toBe(200);
    expect((await first.json<{ orderId: string }>()).orderId).toBe(orderId);
    expect((await redeem()).status).toBe(200);
    const restored = await post(`/v1/coupons/${coupon}/restore`, { orderId }, admin());
    expect(restored.status).toBe(200);
    expect((await restored.json<{ status: string }>()).status).toBe("issued");
  });
});

describe("fuzzed strings", () => {
  const SEED = Date.now() >>> 0;
  /** 1..128 code units: ASCII, BMP letters, astral pairs, and sometimes a lone surrogate. */
  function randomText(next: () => number): string {
    const pieces = [
      "a",
      "Z",
      "-",
      "é",
      "주",
      "€",
      "😀",
      "𝄞",
      "\ud800",
      "\udbff",
      "\udc00",
      "\udfff",
    ];
    let text = "";
    const n = 1 + Math.floor(next() * 40);
    for (let i = 0; i < n; i++) text += pieces[Math.floor(next() * pieces.length)];
    return text.slice(0, 128);
  }

  it(`orderId (seed ${SEED}): 400 exactly when it is not well-formed, whatever it holds`, async () => {
    const next = prng(SEED);
    const user = await asUser("fuzz-user");
    // Nobody's coupon: a well-formed orderId gets as far as the lookup (404), nothing else does.
    const couponId = `cpn_${"Q".repeat(22)}.no-such-event`;
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      const orderId = randomText(next);
      const res = await post(
        `/v1/coupons/${couponId}/redeem`,
        { orderId },
        { ...user, "Idempotency-Key": `k-${i}` },
      );
      const why = `seed ${SEED} case ${i}: ${JSON.stringify(orderId)}`;
      if (orderId.isWellFormed()) {
        expect(res.status, why).toBe(404);
      } else {
        refused++;
        await expectInvalid(res, why);
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe("ill-formed Unicode is refused by the object (RPC is a boundary too)", () => {
  it("redeem, hold and restore with a lone surrogate in orderId or Idempotency-Key throw inside the object, and change nothing", async () => {
    const event = await createEvent({ totalStock: 3 });
    const coupon = (await (await claim(event.id, "rpc-owner")).json<{ id: string }>()).id;
    const stub = eventStub(event.id);
    await drained(event.id);
    const before = {
      coupon: await stub.coupon(coupon, "rpc-owner"),
      stats: await stats(event.id),
    };
    // Called inside the object, as RPC would: each guard throws before anything is read or written.
    await runInDurableObject(stub, (instance: CouponEvent) => {
      for (const bad of ILL_FORMED) {
        const base = { couponId: coupon, userId: "rpc-owner" };
        const what = JSON.stringify(bad);
        expect(
          () => instance.redeem({ ...base, orderId: bad, idempotencyKey: "k" }),
          what,
        ).toThrow();
        expect(
          () => instance.redeem({ ...base, orderId: "o", idempotencyKey: bad }),
          what,
        ).toThrow();
        expect(() => instance.hold({ ...base, orderId: bad, ttlSeconds: 60 }), what).toThrow();
        expect(() => instance.restore({ couponId: coupon, orderId: bad }), what).toThrow();
      }
    });
    expect({
      coupon: await stub.coupon(coupon, "rpc-owner"),
      stats: await stats(event.id),
    }).toEqual(before);
  });
});
