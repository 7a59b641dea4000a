import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { shardOf } from "../../domain/shards.ts";
import { drained, kafkaRecords, userCouponRows } from "./cloud.ts";
import { claim, createEvent, eventStub, problemOf, uniqueId } from "./helpers.ts";
import { burst, couponsByUser, eventStats, shardStub } from "./shard-helpers.ts";

const request = (shard: number, seq: number, want: number) => ({
  shard,
  seq,
  want,
  urgent: true,
  granted: 0,
  returned: 0,
  issued: 0,
});

/** `count` users who land on shard `k` of `shards`. */
function usersOn(eventId: string, k: number, shards: number, count: number): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < count; i++) {
    if (shardOf(eventId, `u-${i}`, shards) === k) users.push(`u-${i}`);
  }
  return users;
}

describe("a sharded event across restarts", () => {
  it("a lease in doubt (granted, never recorded by the shard) is granted once, then adopted", async () => {
    const event = await createEvent({ id: uniqueId("doubt"), totalStock: 10, shards: 2 });
    const coordinator = eventStub(event.id);
    // As if shard 0 asked and died before recording the answer.
    const first = await coordinator.lease(request(0, 0, 6));
    expect(first).toMatchObject({ outcome: "granted", granted: expect.any(Number) });
    expect(await coordinator.lease(request(0, 0, 6))).toEqual(first);
    await abortAllDurableObjects();
    expect(await eventStub(event.id).lease(request(0, 0, 9))).toEqual(first);

    // Shard 0 asks for lease 0 again: the same 6, not 6 more.
    const users = usersOn(event.id, 0, 2, 12);
    const answers = [];
    for (const user of users) answers.push((await claim(event.id, user)).status);
    expect(answers).toEqual([...Array(10).fill(201), 409, 409]);
    expect(await shardStub(event.id, 0).shareTotals()).toMatchObject({ issued: 10 });
    expect((await eventStats(event.id)).event).toMatchObject({ issued: 10, state: "sold-out" });
  });

  it("a recall adopts the lease another shard lost, so its stock is not stranded", async () => {
    const event = await createEvent({ id: uniqueId("strand"), totalStock: 10, shards: 2 });
    // Shard 1 was granted everything and never recorded it; its users never come.
    const lost = await eventStub(event.id).lease(request(1, 0, 10));
    if (lost.outcome !== "granted") throw new Error(`no grant: ${JSON.stringify(lost)}`);
    expect(lost.granted).toBeGreaterThan(0);
    const users = usersOn(event.id, 0, 2, 11);
    const statuses = [];
    for (const user of users) statuses.push((await claim(event.id, user)).status);
    expect(statuses).toEqual([...Array(10).fill(201), 409]);
    expect(await shardStub(event.id, 1).shareTotals()).toEqual({
      granted: lost.granted,
      returned: lost.granted,
      issued: 0,
    });
  });

  it("a shard evicted and every object reset mid-burst: nothing oversold, nothing lost, all in the sinks", async () => {
    const shards = 4;
    const stock = 300;
    const event = await createEvent({ id: uniqueId("crash"), totalStock: stock, shards });
    const users = Array.from({ length: 800 }, (_, i) => `c-${i}`);
    const running = burst(event.id, users, 200);
    // Mid-burst: one shard goes away, then every object (the coordinator mid-lease among them).
    await evictDurableObject(shardStub(event.id, 1)).catch(() => undefined);
    await claim(event.id, "mid-burst");
    await abortAllDurableObjects();
    const answers = await running;
    // Whoever got a 503 through every retry tries once more, as a client would.
    const late = await burst(
      event.id,
      answers.filter((a) => a.status === 503 || a.status === 500).map((a) => a.user),
    );
    const final = [...answers.filter((a) => a.status !== 503 && a.status !== 500), ...late];

    const coupons = final.filter((a) => a.status === 200 || a.status === 201);
    const ids = new Set(coupons.map((a) => a.id));
    expect(ids.size).toBeLessThanOrEqual(stock);
    for (const [, held] of couponsByUser(coupons)) expect(held.size).toBe(1);
    for (const a of final.filter((x) => x.status === 409)) expect(a.slug).toBe("sold-out");

    const stats = await eventStats(event.id);
    expect(stats.event.issued).toBe(stock);
    await drained(event.id);
    const rows = await userCouponRows(event.id);
    expect(rows).toHaveLength(stock);
    const rowIds = new Set(rows.map((r) => r.id));
    for (const id of ids) expect(rowIds.has(id as string)).toBe(true);
    const keys = new Set((await kafkaRecords(event.id)).map((r) => r.key));
    for (const id of ids) expect(keys.has(id as string)).toBe(true);
  });

  it("existing single-object events keep working: no shards, no leases", async () => {
    const event = await createEvent({ id: uniqueId("one"), totalStock: 2 });
    expect(event.shards).toBeUndefined();
    expect((await claim(event.id, "a")).status).toBe(201);
    expect((await claim(event.id, "b")).status).toBe(201);
    expect((await problemOf(await claim(event.id, "c"))).type).toBe("/problems/sold-out");
    expect(await eventStub(event.id).shareTotals()).toBeNull();
  });
});
