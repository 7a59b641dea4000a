import { describe, expect, it } from "vitest";
import { claim, createEvent, getEvent, problemOf } from "./helpers.ts";

interface Coupon {
  id: string;
  userId: string;
}

describe("claims under concurrency", () => {
  it("2,500 users racing for 500 coupons: exactly 500 issued, 2,000 sold-out, no oversell", async () => {
    const event = await createEvent({ totalStock: 500 });
    const users = Array.from({ length: 2500 }, (_, i) => `user-${i}`);

    const responses = await Promise.all(users.map((u) => claim(event.id, u)));

    const issued: Coupon[] = [];
    const refusedSlugs: string[] = [];
    for (const res of responses) {
      if (res.status === 201) issued.push(await res.json<Coupon>());
      else refusedSlugs.push((await problemOf(res)).type);
    }
    expect(issued).toHaveLength(500);
    expect(refusedSlugs).toHaveLength(2000);
    expect(new Set(refusedSlugs)).toEqual(new Set(["/problems/sold-out"]));
    expect(new Set(issued.map((c) => c.id)).size).toBe(500);
    expect(new Set(issued.map((c) => c.userId)).size).toBe(500);

    expect(await getEvent(event.id)).toMatchObject({
      state: "sold-out",
      issued: 500,
      released: 500,
      remaining: 0,
    });
  });

  it("50 concurrent claims by one user yield one coupon: one 201, the rest 200 with the same id", async () => {
    const event = await createEvent({ totalStock: 100 });

    const responses = await Promise.all(Array.from({ length: 50 }, () => claim(event.id, "carol")));

    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const ids = await Promise.all(responses.map(async (r) => (await r.json<Coupon>()).id));
    expect(new Set(ids).size).toBe(1);
    expect((await getEvent(event.id)).issued).toBe(1);
  });

  it("a user who already holds a coupon gets it back with 200 even after the event sold out", async () => {
    const event = await createEvent({ totalStock: 1 });
    const first = await claim(event.id, "dave");
    expect(first.status).toBe(201);
    expect((await claim(event.id, "erin")).status).toBe(409);

    const again = await claim(event.id, "dave");
    expect(again.status).toBe(200);
    expect((await again.json<Coupon>()).id).toBe((await first.json<Coupon>()).id);
  });
});
