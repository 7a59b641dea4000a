/**
 * A sharded event (docs/shards.md) in the layout `npm start` runs: the fronts reach the shards
 * through the objects' RPC door (its allow-list), and the coordinator and its shards call each
 * other inside the objects' process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../local/servers/process.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../../local/worker.ts";
import { workerBindings } from "../../local/worker-bindings.ts";
import { getStack } from "../local-cloud/stack.ts";

const JWT_SECRET = "split-jwt-secret-0123456789abcdef-0123456789";
const ADMIN = "split-admin-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "coupons-split-shards-"));
let worker: RunningWorker;

beforeAll(async () => {
  worker = await startWorker({
    dir: join(dir, "worker"),
    bundle: await bundleWorker(join(dir, "bundle")),
    host: "127.0.0.1",
    port: await freePort(),
    // Two fronts on one port: the split is exercised, not only its degenerate case.
    fronts: 2,
    bindings: {
      JWT_SECRET,
      ADMIN_TOKEN: ADMIN,
      REQUEST_LOG: "off",
      ...workerBindings(getStack()),
    },
  });
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const token = (sub: string) =>
  sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, "HS256");

async function call(
  method: string,
  path: string,
  auth: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${auth}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  };
}

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
