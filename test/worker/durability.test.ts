import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, asUser, claim, createEvent, eventStub, getEvent } from "./helpers.ts";

interface Coupon {
  id: string;
}

/** What the API says about the event and its claims (the outbox drains on its own meanwhile). */
async function snapshot(eventId: string) {
  const res = await api(`/v1/events/${eventId}/stats`, { headers: admin() });
  const stats = await res.json<{ claims: unknown }>();
  return { event: await getEvent(eventId), claims: stats.claims };
}

describe("the object survives eviction and restarts", () => {
  it("after eviction its state, answers and coupons are unchanged and stock keeps counting", async () => {
    const event = await createEvent({ totalStock: 3 });
    const first = await (await claim(event.id, "ann")).json<Coupon>();
    await claim(event.id, "ben");
    const before = await snapshot(event.id);

    await evictDurableObject(eventStub(event.id));

    expect(await snapshot(event.id)).toEqual(before);
    const mine = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser("ann") });
    expect(await mine.json()).toEqual(first);
    const retry = await claim(event.id, "ann");
    expect(retry.status).toBe(200);
    expect((await retry.json<Coupon>()).id).toBe(first.id);

    // The rebuilt counter still guards the stock: one left, then sold out.
    expect((await claim(event.id, "cal")).status).toBe(201);
    expect((await claim(event.id, "dan")).status).toBe(409);
    expect((await getEvent(event.id)).issued).toBe(3);
  });

  it("a pause survives a hard reset of every object", async () => {
    const event = await createEvent({ totalStock: 3 });
    await api(`/v1/events/${event.id}/pause`, { method: "POST", headers: admin() });

    await abortAllDurableObjects();

    expect((await getEvent(event.id)).state).toBe("paused");
    expect((await claim(event.id, "eve")).status).toBe(409);
  });
});
