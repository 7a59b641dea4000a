/**
 * The layout `npm start` runs: the event objects in one workerd process, the front Worker in
 * others sharing the public port, each front reaching the objects over one Cap'n Proto RPC
 * connection (local/worker.ts, src/lib/event-objects.ts). Process level, against the test run's
 * local cloud (MariaDB, Redis and the gateway), so claims also reach MySQL.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADMIN, token, useSplitWorker } from "./split-worker.ts";

const split = useSplitWorker("coupons-split-");
const { call, dir } = split;

async function createEvent(totalStock: number): Promise<string> {
  const id = `split-${crypto.randomUUID().slice(0, 8)}`;
  const res = await call("POST", "/v1/events", ADMIN, {
    id,
    name: "Split layout",
    totalStock,
    startsAt: new Date(Date.now() - 60_000).toISOString(),
  });
  expect(res.status).toBe(201);
  return id;
}

describe("the split layout (fronts apart from the objects)", () => {
  it("runs the fronts and the objects as separate processes", () => {
    const worker = split.worker();
    expect(worker.fronts).toBe(2);
    expect(worker.frontPids).toHaveLength(2);
    expect(worker.frontPids).not.toContain(worker.pid);
  });

  it("takes the fronts' calls on a Unix socket in its own folder, not a TCP port", () => {
    const socket = statSync(join(dir, "worker", "objects-rpc.sock"));
    expect(socket.isSocket()).toBe(true);
    // Connecting needs write permission: no other user may call the objects past the fronts.
    expect(socket.mode & 0o002).toBe(0);
    expect(readFileSync(join(dir, "worker", "front.capnp"), "utf8")).toContain(
      'external = (address = "unix:',
    );
  });

  it("claims, refuses when sold out and redeems across the hop", async () => {
    const id = await createEvent(2);
    const alice = await token("alice");
    const first = await call("POST", `/v1/events/${id}/claims`, alice);
    expect(first.status).toBe(201);
    const again = await call("POST", `/v1/events/${id}/claims`, alice);
    expect(again).toMatchObject({ status: 200, body: first.body });
    expect((await call("POST", `/v1/events/${id}/claims`, await token("bob"))).status).toBe(201);
    const late = await call("POST", `/v1/events/${id}/claims`, await token("carol"));
    expect(late.status).toBe(409);
    expect(late.body.type).toBe("/problems/sold-out");

    const couponId = String(first.body.id);
    const redeemed = await call(
      "POST",
      `/v1/coupons/${couponId}/redeem`,
      alice,
      { orderId: "order-1" },
      { "Idempotency-Key": "split-key-1" },
    );
    expect(redeemed.status).toBe(200);
    expect(redeemed.body).toMatchObject({ id: couponId, status: "redeemed", orderId: "order-1" });
    const stats = await call("GET", `/v1/events/${id}/stats`, ADMIN);
    expect(stats.body).toMatchObject({ claims: { issued: 2 } });
  });

  it("answers 503 with Retry-After while the objects' process is down, and recovers", async () => {
    const id = await createEvent(10);
    const dave = await token("dave");
    const issued = await call("POST", `/v1/events/${id}/claims`, dave);
    expect(issued.status).toBe(201);

    await split.worker().crashObjects();
    const started = Date.now();
    const down = await call("GET", `/v1/events/${id}/claims/me`, dave);
    // "At once": the front does not wait out its 3 s call deadline for a peer that is gone.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(down.status).toBe(503);
    expect(down.body.type).toBe("/problems/unavailable");
    expect(down.headers.get("Retry-After")).toBe("1");

    await split.worker().objectsBack();
    // The same coupon, from the object's storage, through a fresh connection.
    await expect
      .poll(async () => (await call("GET", `/v1/events/${id}/claims/me`, dave)).body.id, {
        timeout: 15_000,
        interval: 100,
      })
      .toBe(issued.body.id);
    const erin = await call("POST", `/v1/events/${id}/claims`, await token("erin"));
    expect(erin.status).toBe(201);
  });
});
