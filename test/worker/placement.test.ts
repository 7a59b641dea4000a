import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { directoryShard } from "../../domain/directory-shard.ts";
import { servicesFor } from "../../platform/services.ts";
import { EventClient } from "../../src/lib/event-client.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventInput,
  getEvent,
  problemOf,
  uniqueId,
} from "./helpers.ts";

const post = (path: string, body?: unknown, headers: Record<string, string> = admin()) =>
  api(path, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/**
 * workerd has no jurisdictions ("Jurisdiction restrictions are not implemented in workerd"), so
 * here an `eu` event's object is the stand-in `eu:<id>` of the plain namespace
 * (platform/object-placement.ts); on Cloudflare it is `idFromName(<id>)` in the `eu` namespace.
 * Either way it is never the default `idFromName(<id>)`, which is what these tests check.
 */
const standIn = (jurisdiction: string, eventId: string) =>
  env.COUPON_EVENT.idFromName(`${jurisdiction}:${eventId}`).toString();
const plain = (eventId: string) => env.COUPON_EVENT.idFromName(eventId).toString();
const objectIds = async () => (await listDurableObjectIds(env.COUPON_EVENT)).map(String);
const directory = (eventId: string) =>
  env.EVENT_DIRECTORY.get(env.EVENT_DIRECTORY.idFromName(directoryShard(eventId)));

describe("an event's region and jurisdiction", () => {
  it("are stored and shown when set, and absent from an event without them", async () => {
    const placed = await createEvent({ region: "apac", jurisdiction: "eu" });
    expect(placed).toMatchObject({ region: "apac", jurisdiction: "eu" });
    expect(await getEvent(placed.id)).toMatchObject({ region: "apac", jurisdiction: "eu" });
    expect(await directory(placed.id).placement(placed.id)).toEqual({
      region: "apac",
      jurisdiction: "eu",
    });

    const hinted = await createEvent({ region: "weur" });
    expect(hinted.region).toBe("weur");
    expect("jurisdiction" in hinted).toBe(false);

    const anywhere = await createEvent();
    expect("region" in anywhere || "jurisdiction" in anywhere).toBe(false);
  });

  it("only Cloudflare's location hints and the eu and fedramp jurisdictions are accepted", async () => {
    for (const bad of [
      { region: "mars" },
      { region: "APAC" },
      { region: "apac-ne" },
      { jurisdiction: "us" },
      { jurisdiction: "fedramp-high" },
      { jurisdiction: null },
      { region: 3 },
    ]) {
      const input = { ...eventInput(), ...bad };
      const res = await post("/v1/events", input);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      const problem = await problemOf(res);
      expect(problem.type).toBe("/problems/invalid-request");
      expect((await api(`/v1/events/${input.id}`)).status).toBe(404);
    }
  });

  it("are part of the definition: the same again is 200, any change 409 conflict", async () => {
    const input = eventInput({ region: "apac", jurisdiction: "eu" });
    expect((await post("/v1/events", input)).status).toBe(201);
    expect((await post("/v1/events", input)).status).toBe(200);
    for (const change of [
      { region: "weur" },
      { region: undefined },
      { jurisdiction: "fedramp" },
      { jurisdiction: undefined },
    ] as const) {
      const res = await post("/v1/events", { ...input, ...change });
      expect(res.status, JSON.stringify(change)).toBe(409);
      expect((await problemOf(res)).type).toBe("/problems/conflict");
    }
    expect(await getEvent(input.id)).toMatchObject({ region: "apac", jurisdiction: "eu" });
  });

  it("a create that adds a jurisdiction to an existing event is 409 and creates no object there", async () => {
    const event = await createEvent();
    const res = await post("/v1/events", { ...eventInput({ id: event.id }), jurisdiction: "eu" });
    expect(res.status).toBe(409);
    expect(await objectIds()).not.toContain(standIn("eu", event.id));
  });

  it("every call of an eu event reaches its one object, never the default namespace's", async () => {
    const event = await createEvent({ jurisdiction: "eu", region: "weur", totalStock: 3 });
    const user = uniqueId("buyer");

    const claimed = await claim(event.id, user);
    expect(claimed.status).toBe(201);
    const coupon = (await claimed.json()) as { id: string };
    expect((await claim(event.id, user)).status).toBe(200);

    const mine = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser(user) });
    expect(mine.status).toBe(200);
    const read = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser(user) });
    expect(read.status).toBe(200);
    const redeemed = await post(
      `/v1/coupons/${coupon.id}/redeem`,
      { orderId: "order-1" },
      { ...(await asUser(user)), "Idempotency-Key": "k-1" },
    );
    expect(redeemed.status).toBe(200);
    expect((await post(`/v1/coupons/${coupon.id}/restore`, { orderId: "order-1" })).status).toBe(
      200,
    );

    expect((await post(`/v1/events/${event.id}/pause`)).status).toBe(200);
    expect((await post(`/v1/events/${event.id}/resume`)).status).toBe(200);
    const stats = await api(`/v1/events/${event.id}/stats`, { headers: admin() });
    expect(stats.status).toBe(200);
    expect(((await stats.json()) as { event: { issued: number } }).event.issued).toBe(1);
    expect((await api(`/v1/events/${event.id}/dead-letters`, { headers: admin() })).status).toBe(
      200,
    );

    const ids = await objectIds();
    expect(ids).toContain(standIn("eu", event.id));
    expect(ids).not.toContain(plain(event.id));
  });

  it("an isolate that never saw the event finds its object through the directory", async () => {
    const event = await createEvent({ jurisdiction: "fedramp", totalStock: 2 });
    const user = uniqueId("buyer");
    // A client of its own: no snapshot of this event, as in a fresh isolate elsewhere.
    const fresh = new EventClient(env, servicesFor(env));
    const view = await fresh.read(event.id);
    expect(view).toMatchObject({ id: event.id, jurisdiction: "fedramp", issued: 0 });
    const answer = await fresh.claim(event.id, user);
    expect(answer.outcome).toBe("issued");
    if (answer.outcome !== "issued") return;
    const again = new EventClient(env, servicesFor(env));
    expect(await again.coupon(event.id, answer.coupon.id, user)).toMatchObject({
      id: answer.coupon.id,
      eventId: event.id,
    });
    expect(await objectIds()).not.toContain(plain(event.id));
  });
});
