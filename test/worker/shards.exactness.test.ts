import { describe, expect, it } from "vitest";
import { shardOf } from "../../domain/shards.ts";
import { admin, api, claim, createEvent, getEvent, uniqueId } from "./helpers.ts";
import { burst, couponsByUser, eventStats } from "./shard-helpers.ts";

const USERS = 3_000;
/** 3,000 claims by 2,400 users: 600 of them claim twice. */
const DISTINCT = 2_400;

describe("a sharded event stays exact", () => {
  for (const shards of [1, 4, 16]) {
    for (const stock of [1, 7, 1_000]) {
      it(`${shards} shard(s), stock ${stock}, ${USERS} concurrent claims with repeats`, async () => {
        const event = await createEvent({ id: uniqueId(`sh${shards}`), totalStock: stock, shards });
        const users = Array.from({ length: USERS }, (_, i) => `user-${i % DISTINCT}`);

        // In waves of 1,000 at once: a wave that answered sold-out must leave nothing unissued.
        const answers = await burst(event.id, users, 1_000, async (wave) => {
          if (!wave.some((a) => a.slug === "sold-out")) return;
          expect((await eventStats(event.id)).claims.issued).toBe(stock);
        });

        const expected = Math.min(stock, DISTINCT);
        const coupons = answers.filter((a) => a.status === 200 || a.status === 201);
        // A claim answered 503 (a busy shard) and retried may find its coupon already issued: 200.
        expect(answers.filter((a) => a.status === 201).length).toBeLessThanOrEqual(expected);
        expect(new Set(coupons.map((a) => a.id)).size).toBe(expected);
        expect(new Set(coupons.map((a) => a.user)).size).toBe(expected);
        // Each user at most one coupon; a repeat gets the same one (or the same refusal).
        for (const [user, ids] of couponsByUser(answers)) {
          expect(ids.size, `${user}: ${[...ids].join(", ")}`).toBe(1);
        }
        // Every refusal is sold-out.
        const refused = answers.filter((a) => a.status !== 200 && a.status !== 201);
        expect(new Set(refused.map((a) => a.slug))).toEqual(
          new Set(refused.length > 0 ? ["sold-out"] : []),
        );
        expect(refused).toHaveLength(USERS - coupons.length);
        // Coupon ids name the shard the user lands on.
        for (const a of coupons) {
          const k = shardOf(event.id, a.user, shards);
          expect(a.id?.endsWith(shards > 1 ? `.${event.id}.s${k}` : `.${event.id}`)).toBe(true);
        }

        const stats = await eventStats(event.id);
        expect(stats.claims.issued).toBe(expected);
        expect(stats.event).toMatchObject({ issued: expected, released: stock, state: "sold-out" });
        if (shards > 1) expect(stats.event.shards).toBe(shards);
        else expect(stats.event.shards).toBeUndefined();
      });
    }
  }

  it("no fragments: one user after another, each gets a coupon until the last is issued", async () => {
    const shards = 16;
    const stock = 7;
    const event = await createEvent({ id: uniqueId("frag"), totalStock: stock, shards });
    // Users that land on as many different shards as possible, one at a time.
    const users = Array.from({ length: 40 }, (_, i) => `seq-${i}`);
    const statuses: number[] = [];
    for (const user of users.slice(0, stock)) {
      // A first claim fills some shards with leases; later users hit others.
      statuses.push((await claim(event.id, user)).status);
    }
    expect(statuses).toEqual(Array(stock).fill(201));
    for (const user of users.slice(stock)) {
      const res = await claim(event.id, user);
      expect(res.status).toBe(409);
      expect((await res.json<{ type: string }>()).type).toBe("/problems/sold-out");
    }
    const shardsUsed = new Set(users.slice(0, stock).map((u) => shardOf(event.id, u, shards)));
    expect(shardsUsed.size).toBeGreaterThan(1);
    expect((await eventStats(event.id)).event).toMatchObject({ issued: stock, state: "sold-out" });
  });

  it("the create's shards are part of the definition: another count is a conflict", async () => {
    const event = await createEvent({ id: uniqueId("def"), totalStock: 10, shards: 4 });
    expect(event.shards).toBe(4);
    const post = (shards: number) =>
      api("/v1/events", {
        method: "POST",
        headers: admin({ "Content-Type": "application/json" }),
        body: JSON.stringify({
          id: event.id,
          name: event.name,
          totalStock: 10,
          startsAt: event.startsAt,
          shards,
        }),
      });
    expect((await post(4)).status).toBe(200);
    expect((await post(1)).status).toBe(409);
    expect((await post(65)).status).toBe(400);
    expect((await getEvent(event.id)).shards).toBe(4);
  });
});
