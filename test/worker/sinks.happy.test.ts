import { describe, expect, it } from "vitest";
import {
  drained,
  eventually,
  type Health,
  kafkaRecords,
  outboxTotals,
  stats,
  userCouponRows,
} from "./cloud.ts";
import { api, asUser, claim, createEvent } from "./helpers.ts";

interface Coupon {
  id: string;
  userId: string;
  eventId: string;
  issuedAt: string;
}

describe("every accepted claim reaches MySQL and Kafka", () => {
  it("500 claims: 500 rows in user_coupons and 500 distinct keys on the topic", async () => {
    const event = await createEvent({ totalStock: 500 });
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, i) => claim(event.id, `buyer-${i}`)),
    );
    expect(answers.every((r) => r.status === 201)).toBe(true);
    const coupons = await Promise.all(answers.map((r) => r.json<Coupon>()));
    const byId = new Map(coupons.map((c) => [c.id, c]));

    await drained(event.id);

    const rows = await userCouponRows(event.id);
    expect(rows).toHaveLength(500);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(byId.keys()));
    for (const row of rows) expect(row.user_id).toBe(byId.get(row.id)?.userId);

    const records = await kafkaRecords(event.id);
    expect(records.length).toBeGreaterThanOrEqual(500);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(byId.keys()));
    for (const r of records) {
      expect(r.value).toMatchObject({
        type: "coupon.issued",
        schemaVersion: 1,
        coupon: { id: r.key },
      });
    }

    const s = await stats(event.id);
    expect(s.sinks.mysql).toMatchObject({
      state: "ok",
      delivered: 500,
      backlog: 0,
      deadLetters: 0,
    });
    expect(s.sinks.kafka).toMatchObject({
      state: "ok",
      delivered: 500,
      backlog: 0,
      deadLetters: 0,
    });
  });

  it("GET /health reports every sink ok; the operator's summary adds up the events' outboxes", async () => {
    // Every event of the run counts: other files' crowds may still be draining (their sinks
    // retrying after a timeout under load), so health is awaited until it settles.
    const health = await eventually(
      async () => (await api("/health")).json<Health>(),
      (h) => h.status === "ok",
      { what: "every sink ok" },
    );
    expect(health).toMatchObject({
      status: "ok",
      sinks: { mysql: "ok", kafka: "ok", redis: "ok" },
      errors: {},
    });
    // Public: states only, no figure.
    expect(health).not.toHaveProperty("outbox");
    // The 500 claims above were delivered; their object published its summary when it went idle.
    const outbox = await outboxTotals();
    expect(outbox?.events).toBeGreaterThanOrEqual(1);
    expect(outbox?.sinks.mysql.delivered).toBeGreaterThanOrEqual(500);
    expect(outbox?.sinks.kafka.delivered).toBeGreaterThanOrEqual(500);
    expect(outbox?.deadLetters).toBe(0);
  });
});

describe("GET /v1/me/coupons", () => {
  it("pages through 120 coupons of one user across events, newest first", async () => {
    const user = `collector-${crypto.randomUUID()}`;
    const events = await Promise.all(
      Array.from({ length: 120 }, () => createEvent({ totalStock: 1 })),
    );
    const issued: Coupon[] = [];
    // One at a time, so issuedAt strictly orders them (ties are broken by id anyway).
    for (const event of events) issued.push(await (await claim(event.id, user)).json<Coupon>());
    await Promise.all(events.map((e) => drained(e.id)));

    const headers = await asUser(user);
    const seen: Coupon[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=50&cursor=${cursor}` : "?limit=50";
      const res = await api(`/v1/me/coupons${query}`, { headers });
      expect(res.status).toBe(200);
      const page = await res.json<{ items: Coupon[]; nextCursor: string | null }>();
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);

    expect(pages).toBe(3);
    expect(seen.map((c) => c.id)).toEqual(
      [...issued]
        .sort((a, b) => b.issuedAt.localeCompare(a.issuedAt) || (b.id < a.id ? -1 : 1))
        .map((c) => c.id),
    );
    expect(seen.every((c) => c.userId === user)).toBe(true);
  });

  it("shows nobody else's coupons and rejects a forged cursor", async () => {
    const res = await api("/v1/me/coupons", {
      headers: await asUser(`nobody-${crypto.randomUUID()}`),
    });
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
    const bad = await api("/v1/me/coupons?cursor=bm90LWEtY3Vyc29y", { headers: await asUser("x") });
    expect(bad.status).toBe(400);
  });
});
