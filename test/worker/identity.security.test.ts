import { describe, expect, it } from "vitest";
import { drained, kafkaRecords, stats, userCouponRows } from "./cloud.ts";
import { api, asUser, claim, createEvent, problemOf, userToken } from "./helpers.ts";

interface Coupon {
  id: string;
  eventId: string;
  userId: string;
  issuedAt: string;
}

/** Ids that a case-, accent- or pad-insensitive collation would take for one user. */
const LOOKALIKES = [
  "Alice",
  "alice",
  "ALICE",
  "bob",
  "bob ",
  " bob",
  "Straße",
  "strasse",
  "STRASSE",
  "\u00e9", // é composed
  "e\u0301", // é decomposed
  "E",
];

describe("user ids compare byte for byte", () => {
  it("users whose ids differ only in case, spaces, accents or ß/ss each get their own coupon, row and record", async () => {
    const event = await createEvent({ totalStock: 100 });
    const coupons = new Map<string, Coupon>();
    for (const sub of LOOKALIKES) {
      const res = await claim(event.id, sub);
      expect(res.status, sub).toBe(201);
      const coupon = await res.json<Coupon>();
      expect(coupon.userId).toBe(sub);
      coupons.set(sub, coupon);
    }
    expect(new Set([...coupons.values()].map((c) => c.id)).size).toBe(LOOKALIKES.length);

    // The object keeps them apart too (its SQLite compares TEXT with BINARY collation).
    for (const sub of LOOKALIKES) {
      const mine = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser(sub) });
      expect((await mine.json<Coupon>()).id).toBe(coupons.get(sub)?.id);
    }

    await drained(event.id);
    const s = await stats(event.id);
    expect(s.sinks.mysql).toMatchObject({ delivered: LOOKALIKES.length, deadLetters: 0 });

    // MySQL: every coupon exactly once, under its own user, byte for byte.
    const rows = await userCouponRows(event.id);
    expect(rows).toHaveLength(LOOKALIKES.length);
    expect(new Map(rows.map((r) => [r.user_id, r.id]))).toEqual(
      new Map([...coupons].map(([sub, c]) => [sub, c.id])),
    );

    // Kafka: one record per coupon, keyed by its id, naming its own user.
    const records = await kafkaRecords(event.id);
    expect(new Map(records.map((r) => [r.key, r.value.coupon.userId]))).toEqual(
      new Map([...coupons].map(([sub, c]) => [c.id, sub])),
    );

    // `/v1/me/coupons` answers each user with exactly their own coupon.
    for (const sub of LOOKALIKES) {
      const res = await api("/v1/me/coupons", { headers: await asUser(sub) });
      const page = await res.json<{ items: Coupon[] }>();
      expect(
        page.items.filter((c) => c.eventId === event.id).map((c) => [c.userId, c.id]),
        JSON.stringify(sub),
      ).toEqual([[sub, coupons.get(sub)?.id]]);
    }
  });
});

describe("ill-formed subs", () => {
  const bad: [string, string][] = [
    ["a lone high surrogate", "user\ud800"],
    ["a lone low surrogate", "\udc00user"],
    ["a NUL", "user\u0000"],
    ["a newline", "user\nadmin"],
    ["DEL", "user\u007f"],
    ["a C1 control", "user\u0085"],
  ];
  it.each(bad)("a sub with %s is refused with 401 and nothing is stored", async (_, sub) => {
    const event = await createEvent({ totalStock: 5 });
    const headers = { Authorization: `Bearer ${await userToken(sub)}` };
    const res = await api(`/v1/events/${event.id}/claims`, { method: "POST", headers });
    expect(res.status).toBe(401);
    expect((await problemOf(res)).type).toBe("/problems/unauthorized");
    const me = await api("/v1/me/coupons", { headers });
    expect(me.status).toBe(401);
    const s = await stats(event.id);
    expect(s.claims.issued).toBe(0);
    expect(s.outbox.pending).toBe(0);
  });
});
