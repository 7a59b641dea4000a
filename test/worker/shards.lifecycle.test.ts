import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import { shardOf } from "../../domain/shards.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventInput,
  problemOf,
  uniqueId,
} from "./helpers.ts";
import { eventStats, shardStub, useShardedClock } from "./shard-helpers.ts";
import type { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";

interface Coupon {
  id: string;
  userId: string;
  status: string;
  orderId: string | null;
}

const MINUTE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

const post = async (path: string, body: unknown, headers: Record<string, string>) =>
  api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

/** Claim calls that reached each shard's object since it started, summed. */
async function shardClaims(eventId: string, shards: number): Promise<number> {
  let sum = 0;
  for (let k = 0; k < shards; k++) {
    sum += await runInDurableObject(shardStub(eventId, k), (o: CouponEvent) => o.claimCalls);
  }
  return sum;
}

describe("a sharded event's life", () => {
  it("a waiting room and shards do not combine: 400, and no event is created", async () => {
    const input = eventInput({
      shards: 4,
      startsAt: at(Date.now() + MINUTE),
      queue: { opensAt: at(Date.now()) },
    });
    const res = await post("/v1/events", input, admin());
    expect(res.status).toBe(400);
    expect(JSON.stringify(await problemOf(res))).toContain("shards");
    expect((await api(`/v1/events/${input.id}`)).status).toBe(404);
  });

  it("redeem, hold and restore reach the coupon's shard from its id alone", async () => {
    const event = await createEvent({ id: uniqueId("life"), totalStock: 20, shards: 4 });
    const coupon = await (await claim(event.id, "owner")).json<Coupon>();
    expect(coupon.id).toMatch(new RegExp(`\\.${event.id}\\.s${shardOf(event.id, "owner", 4)}$`));

    const mine = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser("owner") });
    expect((await mine.json<Coupon>()).id).toBe(coupon.id);
    const read = await api(`/v1/coupons/${coupon.id}`, { headers: await asUser("owner") });
    expect(read.status).toBe(200);

    const held = await post(
      `/v1/coupons/${coupon.id}/hold`,
      { orderId: "o-1", ttlSeconds: 60 },
      await asUser("owner"),
    );
    expect(held.status).toBe(200);
    const redeemed = await post(
      `/v1/coupons/${coupon.id}/redeem`,
      { orderId: "o-1" },
      { ...(await asUser("owner")), "Idempotency-Key": "k-1" },
    );
    expect((await redeemed.json<Coupon>()).status).toBe("redeemed");
    const restored = await post(`/v1/coupons/${coupon.id}/restore`, { orderId: "o-1" }, admin());
    expect((await restored.json<Coupon>()).status).toBe("issued");

    // An id naming another shard, or none, is nobody's coupon.
    const k = shardOf(event.id, "owner", 4);
    const other = coupon.id.replace(/\.s\d+$/, `.s${(k + 1) % 4}`);
    const unsharded = coupon.id.replace(/\.s\d+$/, "");
    const beyond = coupon.id.replace(/\.s\d+$/, ".s9");
    for (const id of [other, unsharded, beyond]) {
      expect((await api(`/v1/coupons/${id}`, { headers: await asUser("owner") })).status).toBe(404);
    }
  });

  it("pause reaches every shard before the call returns; resume too", async () => {
    const event = await createEvent({ id: uniqueId("pause"), totalStock: 100, shards: 4 });
    expect((await claim(event.id, "before")).status).toBe(201);
    const paused = await api(`/v1/events/${event.id}/pause`, { method: "POST", headers: admin() });
    expect((await paused.json<{ state: string }>()).state).toBe("paused");
    for (let k = 0; k < 4; k++) {
      const snapshot = await runInDurableObject(shardStub(event.id, k), (o: CouponEvent) =>
        o.snapshot(),
      );
      expect(snapshot?.paused).toBe(true);
    }
    const users = Array.from({ length: 40 }, (_, i) => `p-${i}`);
    for (const res of await Promise.all(users.map((u) => claim(event.id, u)))) {
      expect((await problemOf(res)).type).toBe("/problems/paused");
    }
    await api(`/v1/events/${event.id}/resume`, { method: "POST", headers: admin() });
    const answers = await Promise.all(users.map((u) => claim(event.id, u)));
    expect(answers.map((r) => r.status)).toEqual(users.map(() => 201));
    const stats = await eventStats(event.id);
    expect(stats.claims.issued).toBe(41);
    expect(stats.claims.rejected.paused).toBe(40);
  });

  it("waves with shards: awaiting-release and Retry-After from the coordinator's waves", async () => {
    const t0 = Date.UTC(2031, 0, 1, 12, 0, 0);
    const shards = 4;
    const event = await createEvent({
      id: uniqueId("waves"),
      totalStock: 30,
      shards,
      startsAt: at(t0),
      waves: [
        { at: at(t0), quantity: 10 },
        { at: at(t0 + MINUTE), quantity: 20 },
      ],
    });
    const clock = new ManualClock(t0);
    await useShardedClock(event.id, shards, clock);

    let n = 0;
    const rush = (count: number) =>
      Promise.all(Array.from({ length: count }, () => claim(event.id, `w-${n++}`)));
    let answers = await rush(25);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(10);
    for (const res of answers.filter((r) => r.status !== 201)) {
      expect((await problemOf(res)).type).toBe("/problems/awaiting-release");
      expect(res.headers.get("Retry-After")).toBe("60");
    }
    clock.set(t0 + 30_000);
    const halfway = await claim(event.id, `w-${n++}`);
    expect((await problemOf(halfway)).type).toBe("/problems/awaiting-release");
    expect(halfway.headers.get("Retry-After")).toBe("30");

    clock.set(t0 + MINUTE);
    answers = await rush(30);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(20);
    for (const res of answers.filter((r) => r.status !== 201)) {
      expect((await problemOf(res)).type).toBe("/problems/sold-out");
    }
    expect((await eventStats(event.id)).event).toMatchObject({
      issued: 30,
      released: 30,
      state: "sold-out",
    });
  });

  it("the edge refuses newcomers after a sell-out from the user's shard's holders", async () => {
    const shards = 4;
    const event = await createEvent({ id: uniqueId("edge"), totalStock: 8, shards });
    const holders = Array.from({ length: 8 }, (_, i) => `h-${i}`);
    for (const user of holders) expect((await claim(event.id, user)).status).toBe(201);
    // Newcomers on every shard: the first refusal of each comes from its shard, with its holders.
    const probes: string[] = [];
    for (let i = 0; probes.length < 40; i++) probes.push(`probe-${i}`);
    for (const res of await Promise.all(probes.map((u) => claim(event.id, u)))) {
      expect((await problemOf(res)).type).toBe("/problems/sold-out");
    }
    for (let k = 0; k < shards; k++) {
      const probe = probes.find((u) => shardOf(event.id, u, shards) === k) ?? `none-${k}`;
      await claim(event.id, probe);
    }

    const before = await shardClaims(event.id, shards);
    const late = await Promise.all(
      Array.from({ length: 300 }, (_, i) => claim(event.id, `late-${i}`)),
    );
    for (const res of late) expect((await problemOf(res)).type).toBe("/problems/sold-out");
    expect(await shardClaims(event.id, shards)).toBe(before);
    // Holders still get their coupons back, from their shard.
    for (const user of holders) expect((await claim(event.id, user)).status).toBe(200);
    expect(await shardClaims(event.id, shards)).toBe(before + holders.length);
  });
});
