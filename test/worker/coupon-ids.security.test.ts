/**
 * Coupon ids are opaque to clients (API.md): an id the service does not know is 404 `not-found`
 * on every coupon route, whatever it looks like, and changes nothing.
 */
import { describe, expect, it } from "vitest";
import { prng } from "../../loadtest/prng.ts";
import { admin, api, asUser, claim, createEvent, problemOf } from "./helpers.ts";

const SEED = Date.now() >>> 0;
const ADDRESS = { "CF-Connecting-IP": "198.51.100.22" };

/** Ids of every shape: near misses of the real format, other formats, odd characters. */
function shapes(eventId: string, real: string): string[] {
  const next = prng(SEED);
  const alphabet = "ABCxyz019_-.~!$&'()*+,;=:@%é😀";
  const random = Array.from({ length: 40 }, () =>
    Array.from(
      { length: 1 + Math.floor(next() * 120) },
      () => [...alphabet][Math.floor(next() * [...alphabet].length)],
    ).join(""),
  );
  return [
    "x",
    "not-a-coupon",
    "cpn_",
    `cpn_${"A".repeat(21)}.${eventId}`,
    `cpn_${"A".repeat(23)}.${eventId}`,
    `cpn_${"A".repeat(22)}.${eventId}`,
    `cpn_${"A".repeat(22)}`, // the first format: looked up, unknown
    `CPN_${real.slice(4)}`,
    `${real}x`,
    `${real}.`,
    real.slice(0, -1),
    `${real.slice(0, real.indexOf("."))}.no-such-event`,
    `${real.slice(0, real.indexOf("."))}.${"e".repeat(65)}`,
    "a".repeat(2000),
    "%00",
    "%ED%A0%80", // a lone surrogate, UTF-8 encoded
    "%FF%FE",
    "%F0%9F%98%80",
    "..%2F..%2Fadmin",
    "'%20OR%201=1",
    ...random.map((id) => `r${encodeURIComponent(id)}`),
  ];
}

const post = async (path: string, body: unknown, headers: Record<string, string>) =>
  api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...ADDRESS, ...headers },
    body: JSON.stringify(body),
  });

describe("unknown coupon ids of any shape", () => {
  it("GET, redeem, hold and restore each answer 404 not-found, and the owner's coupon is untouched", async () => {
    const event = await createEvent({ totalStock: 3 });
    const owner = await asUser("id-owner");
    const real = (await (await claim(event.id, "id-owner")).json<{ id: string }>()).id;
    const read = async () =>
      (await api(`/v1/coupons/${real}`, { headers: { ...owner, ...ADDRESS } })).json();
    const before = await read();

    for (const id of shapes(event.id, real)) {
      const why = `seed ${SEED}: ${JSON.stringify(id)}`;
      const answers = [
        await api(`/v1/coupons/${id}`, { headers: { ...owner, ...ADDRESS } }),
        await post(
          `/v1/coupons/${id}/redeem`,
          { orderId: "o-1" },
          { ...owner, "Idempotency-Key": "k-1" },
        ),
        await post(`/v1/coupons/${id}/hold`, { orderId: "o-1", ttlSeconds: 60 }, owner),
        await post(`/v1/coupons/${id}/restore`, { orderId: "o-1" }, admin()),
      ];
      for (const res of answers) {
        expect(res.status, why).toBe(404);
        expect((await problemOf(res)).type, why).toBe("/problems/not-found");
      }
    }
    expect(await read()).toEqual(before);
  });
});
