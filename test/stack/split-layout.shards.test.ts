/**
 * A sharded event (docs/shards.md) in the layout `npm start` runs: the fronts reach the shards
 * through the objects' RPC door (its allow-list), and the coordinator and its shards call each
 * other inside the objects' process.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, token, useSplitWorker } from "./split-worker.ts";

const { call } = useSplitWorker("coupons-split-shards-");

describe("a sharded event across the split layout", () => {
  it("4 shards: claims exact, coupons routed by id, pause and stats summed", async () => {
    const id = `split-shards-${crypto.randomUUID().slice(0, 8)}`;
    const created = await call("POST", "/v1/events", ADMIN, {
      id,
      name: "Split shards",
      totalStock: 40,
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      shards: 4,
    });
    expect(created.status).toBe(201);
    expect(created.body.shards).toBe(4);

    const users = Array.from({ length: 100 }, (_, i) => `split-user-${i}`);
    const answers = await Promise.all(
      users.map(async (u) => {
        for (let attempt = 0; ; attempt++) {
          const res = await call("POST", `/v1/events/${id}/claims`, await token(u));
          if (res.status !== 503 || attempt > 10) return { user: u, ...res };
        }
      }),
    );
    const coupons = answers.filter((a) => a.status === 201 || a.status === 200);
    expect(new Set(coupons.map((a) => a.body.id)).size).toBe(40);
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.body.type).toBe("/problems/sold-out");
    }

    const first = coupons[0];
    if (!first) throw new Error("no coupon");
    const couponId = String(first.body.id);
    expect(couponId).toMatch(new RegExp(`\\.${id}\\.s[0-3]$`));
    const redeemed = await call(
      "POST",
      `/v1/coupons/${couponId}/redeem`,
      await token(first.user),
      { orderId: "split-order" },
      { "Idempotency-Key": "split-key" },
    );
    expect(redeemed.status).toBe(200);
    expect(redeemed.body.status).toBe("redeemed");

    const paused = await call("POST", `/v1/events/${id}/pause`, ADMIN);
    expect(paused.body.state).toBe("paused");
    const stats = await call("GET", `/v1/events/${id}/stats`, ADMIN);
    expect(stats.body.claims).toMatchObject({ issued: 40 });
  });
});
