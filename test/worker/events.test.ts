import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import {
  admin,
  api,
  claim,
  createEvent,
  eventInput,
  getEvent,
  problemOf,
  uniqueId,
  useClock,
} from "./helpers.ts";

const post = (path: string, body?: unknown) =>
  api(path, {
    method: "POST",
    headers: admin({ "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe("event lifecycle", () => {
  it("creates an event with 201, one wave at startsAt by default", async () => {
    const input = eventInput({ totalStock: 7 });
    const res = await post("/v1/events", input);
    expect(res.status).toBe(201);
    expect(res.headers.get("Location")).toBe(`/v1/events/${input.id}`);
    expect(await res.json()).toEqual({
      id: input.id,
      name: input.name,
      state: "open",
      totalStock: 7,
      released: 7,
      issued: 0,
      remaining: 7,
      startsAt: input.startsAt,
      endsAt: null,
      couponExpiresAt: null,
      waves: [{ at: input.startsAt, quantity: 7 }],
      nextWaveAt: null,
      queue: null,
    });
  });

  it("creating the same definition again answers 200; a different one 409 conflict", async () => {
    const input = eventInput();
    expect((await post("/v1/events", input)).status).toBe(201);
    expect((await post("/v1/events", input)).status).toBe(200);

    const res = await post("/v1/events", { ...input, totalStock: input.totalStock + 1 });
    expect(res.status).toBe(409);
    expect((await problemOf(res)).type).toBe("/problems/conflict");
    expect((await getEvent(input.id)).totalStock).toBe(input.totalStock);
  });

  it("pause stops claims at once and resume restarts them; both are idempotent", async () => {
    const event = await createEvent({ totalStock: 5 });
    const paused = await post(`/v1/events/${event.id}/pause`);
    expect(paused.status).toBe(200);
    expect((await paused.json<{ state: string }>()).state).toBe("paused");
    expect((await post(`/v1/events/${event.id}/pause`)).status).toBe(200);

    const refused = await claim(event.id, "frank");
    expect((await problemOf(refused)).type).toBe("/problems/paused");
    expect((await getEvent(event.id)).issued).toBe(0);

    const resumed = await post(`/v1/events/${event.id}/resume`);
    expect((await resumed.json<{ state: string }>()).state).toBe("open");
    expect((await post(`/v1/events/${event.id}/resume`)).status).toBe(200);
    expect((await claim(event.id, "frank")).status).toBe(201);
  });

  it("a claim before startsAt is not-started with Retry-After in whole seconds", async () => {
    const startsAt = Date.now() + 90_500;
    const event = await createEvent({ startsAt: new Date(startsAt).toISOString() });
    await useClock(event.id, new ManualClock(startsAt - 90_500));
    const res = await claim(event.id, "gina");
    expect(res.status).toBe(409);
    expect((await problemOf(res)).type).toBe("/problems/not-started");
    expect(res.headers.get("Retry-After")).toBe("91");
  });

  it("a claim after endsAt is ended, even with stock left", async () => {
    const startsAt = Date.now() - 60_000;
    const endsAt = startsAt + 30_000;
    const event = await createEvent({
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
    });
    expect(event.state).toBe("ended");
    const res = await claim(event.id, "hank");
    expect((await problemOf(res)).type).toBe("/problems/ended");
    expect((await getEvent(event.id)).issued).toBe(0);
  });

  it("an unknown event is 404 for reads, claims, pause and stats", async () => {
    const id = uniqueId("nope");
    for (const res of [
      await api(`/v1/events/${id}`),
      await claim(id, "ivy"),
      await post(`/v1/events/${id}/pause`),
      await api(`/v1/events/${id}/stats`, { headers: admin() }),
    ]) {
      expect(res.status).toBe(404);
      expect((await problemOf(res)).type).toBe("/problems/not-found");
    }
  });

  it("stats count issued coupons, rejections by slug and the pending outbox", async () => {
    const event = await createEvent({ totalStock: 2 });
    for (const user of ["a", "b", "c", "d"]) await claim(event.id, user);
    const res = await api(`/v1/events/${event.id}/stats`, { headers: admin() });
    expect(res.status).toBe(200);
    const stats = await res.json<Record<string, unknown>>();
    expect(stats).toMatchObject({
      event: { id: event.id, issued: 2, state: "sold-out" },
      claims: { issued: 2, rejected: { "sold-out": 2 } },
    });
    expect(stats).toHaveProperty("outbox.pending");
    expect(stats).toHaveProperty("sinks.mysql.state");
    expect(stats).toHaveProperty("sinks.kafka.backlog");
  });

  it("coupons carry the event's couponExpiresAt and read expired once it passes", async () => {
    const now = Date.now();
    const event = await createEvent({
      startsAt: new Date(now - 60_000).toISOString(),
      couponExpiresAt: new Date(now + 60_000).toISOString(),
    });
    const clock = new ManualClock(now);
    await useClock(event.id, clock);
    const coupon = await (await claim(event.id, "jane")).json<{
      status: string;
      expiresAt: string;
    }>();
    expect(coupon).toMatchObject({ status: "issued", expiresAt: event.couponExpiresAt });
    clock.advance(61_000);
    const again = await (await claim(event.id, "jane")).json<{ status: string }>();
    expect(again.status).toBe("expired");
  });
});
