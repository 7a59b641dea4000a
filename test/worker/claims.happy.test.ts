import { describe, expect, it } from "vitest";
import { api, asUser, claim, createEvent, getEvent } from "./helpers.ts";

describe("claiming a coupon", () => {
  it("issues a coupon with 201 and reads it back", async () => {
    const event = await createEvent({ totalStock: 3 });
    const res = await claim(event.id, "alice");
    expect(res.status).toBe(201);
    const coupon = await res.json<{
      id: string;
      eventId: string;
      userId: string;
      status: string;
    }>();
    expect(coupon).toMatchObject({ eventId: event.id, userId: "alice", status: "issued" });
    expect(coupon.id).toMatch(new RegExp(`^cpn_[0-9A-Za-z]{22}\\.${event.id}$`));

    const mine = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser("alice") });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual(coupon);

    const after = await getEvent(event.id);
    expect(after).toMatchObject({ state: "open", issued: 1, released: 3, remaining: 2 });
  });

  it("answers 404 on claims/me for a user who holds no coupon", async () => {
    const event = await createEvent();
    const res = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser("bob") });
    expect(res.status).toBe(404);
  });
});
