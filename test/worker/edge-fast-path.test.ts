import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventStub,
  getEvent,
  problemOf,
  uniqueId,
  useClock,
} from "./helpers.ts";
import type { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";

interface Coupon {
  id: string;
  userId: string;
}

/** Claim calls that reached the event's object since it started. */
const objectClaims = (eventId: string) =>
  runInDurableObject(eventStub(eventId), (o: CouponEvent) => o.claimCalls);

describe("the edge answers what the object would certainly refuse", () => {
  it("after a sell-out, 1,000 new users are refused sold-out without one call to the object, while 50 holders get their coupons back", async () => {
    const event = await createEvent({ totalStock: 50 });
    const holders = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const res = await claim(event.id, `holder-${i}`);
      expect(res.status).toBe(201);
      holders.set(`holder-${i}`, (await res.json<Coupon>()).id);
    }
    // The first refusal comes from the object, with the final holders for the edge.
    expect((await problemOf(await claim(event.id, "first-too-late"))).type).toBe(
      "/problems/sold-out",
    );

    const before = await objectClaims(event.id);
    const late = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => claim(event.id, `late-${i}`)),
    );
    for (const res of late) {
      expect(res.status).toBe(409);
      expect((await problemOf(res)).type).toBe("/problems/sold-out");
    }
    expect(await objectClaims(event.id)).toBe(before);

    for (const [user, couponId] of holders) {
      const res = await claim(event.id, user);
      expect(res.status).toBe(200);
      expect((await res.json<Coupon>()).id).toBe(couponId);
    }
    expect(await objectClaims(event.id)).toBe(before + 50);

    // The edge's refusals still count in the event's stats.
    const stats = await (await api(`/v1/events/${event.id}/stats`, { headers: admin() })).json<{
      claims: { rejected: Record<string, number> };
    }>();
    expect(stats.claims.rejected["sold-out"]).toBe(1_001);
  });

  it("claims before the start are refused at the edge with Retry-After", async () => {
    const startsAt = Date.now() + 3_600_000;
    const event = await createEvent({ startsAt: new Date(startsAt).toISOString() });
    const before = await objectClaims(event.id);
    const res = await claim(event.id, "early");
    expect((await problemOf(res)).type).toBe("/problems/not-started");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(3_500);
    expect(await objectClaims(event.id)).toBe(before);
  });

  it("GET /v1/events/{id} follows every claim answered through this isolate", async () => {
    const event = await createEvent({ totalStock: 3 });
    await claim(event.id, "a");
    await claim(event.id, "b");
    expect(await getEvent(event.id)).toMatchObject({ issued: 2, remaining: 1, state: "open" });
    await claim(event.id, "c");
    expect(await getEvent(event.id)).toMatchObject({ issued: 3, state: "sold-out" });
  });
});

describe("the snapshot never refuses a claim the object would accept", () => {
  it("around a wave release: the next wave is claimable the moment it is released", async () => {
    const t0 = Date.UTC(2031, 0, 1, 12, 0, 0);
    const at = (ms: number) => new Date(ms).toISOString();
    const event = await createEvent({
      totalStock: 3,
      startsAt: at(t0),
      waves: [
        { at: at(t0), quantity: 1 },
        { at: at(t0 + 60_000), quantity: 2 },
      ],
    });
    const clock = new ManualClock(t0);
    await useClock(event.id, clock);
    expect((await claim(event.id, "w1")).status).toBe(201);
    const waiting = await claim(event.id, "w2");
    expect((await problemOf(waiting)).type).toBe("/problems/awaiting-release");

    clock.set(t0 + 59_999);
    expect((await problemOf(await claim(event.id, "w2"))).type).toBe("/problems/awaiting-release");
    clock.set(t0 + 60_000);
    expect((await claim(event.id, "w2")).status).toBe(201);
    expect((await claim(event.id, "w3")).status).toBe(201);
  });

  it("a resume this isolate never heard of: claims go through at once", async () => {
    const event = await createEvent({ totalStock: 5 });
    await api(`/v1/events/${event.id}/pause`, { method: "POST", headers: admin() });
    expect((await problemOf(await claim(event.id, "p1"))).type).toBe("/problems/paused");
    // Resumed behind this isolate's back (as by another isolate): its snapshot still says paused.
    await eventStub(event.id).setPaused(false);
    expect((await claim(event.id, "p1")).status).toBe(201);
  });

  it("a stale snapshot (an isolate that missed a sell-out and its holders) still answers holders 200", async () => {
    const event = await createEvent({ totalStock: 2 });
    expect((await getEvent(event.id)).state).toBe("open");
    // Sold out through the object directly: this isolate's snapshot misses both claims.
    const stub = eventStub(event.id);
    const a = await stub.claim("stale-a");
    const b = await stub.claim("stale-b");
    if (a.outcome !== "issued" || b.outcome !== "issued") throw new Error("setup failed");

    expect((await claim(event.id, "stale-a")).status).toBe(200);
    expect((await problemOf(await claim(event.id, "newcomer"))).type).toBe("/problems/sold-out");
    const again = await claim(event.id, "stale-b");
    expect(again.status).toBe(200);
    expect((await again.json<Coupon>()).id).toBe(b.coupon.id);
  });
});

describe("an unknown event id creates nothing", () => {
  it("reads, claims, claims/me, stats and pause of an unknown id are 404 and leave no object storage", async () => {
    const id = uniqueId("ghost");
    const before = (await listDurableObjectIds(env.COUPON_EVENT)).map(String);
    const headers = await asUser("curious");
    const answers = [
      await api(`/v1/events/${id}`),
      await api(`/v1/events/${id}/claims`, { method: "POST", headers }),
      await api(`/v1/events/${id}/claims/me`, { headers }),
      await api(`/v1/events/${id}/stats`, { headers: admin() }),
      await api(`/v1/events/${id}/pause`, { method: "POST", headers: admin() }),
    ];
    for (const res of answers) expect((await problemOf(res)).status).toBe(404);
    const after = (await listDurableObjectIds(env.COUPON_EVENT)).map(String);
    expect(after).not.toContain(env.COUPON_EVENT.idFromName(id).toString());
    expect(after.length).toBe(before.length);
  });
});
