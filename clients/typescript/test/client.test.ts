/**
 * The client against a real Worker: the bundle served by workerd as `npm start` serves it, pointed
 * at the local cloud `npm test` started (COUPON_STACK_FILE), or at one of this file's own when run
 * alone. A coupon's whole life at checkout goes through the client: claim, hold, redeem (with a
 * lost answer retried under the same Idempotency-Key), restore, the list of coupons; then typed
 * errors.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLocalCloud, startLocalCloud } from "../../../local/cloud.ts";
import { freePort } from "../../../local/servers/process.ts";
import type { StackFile } from "../../../local/stack-types.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../../../local/worker.ts";
import { workerBindings } from "../../../local/worker-bindings.ts";
import { type Coupon, CouponApiError, CouponClient } from "../src/index.ts";

const JWT_SECRET = randomBytes(32).toString("hex");
const ADMIN_TOKEN = randomBytes(24).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "coupons-client-"));
let ownCloud: RunningLocalCloud | undefined;
let worker: RunningWorker;

beforeAll(async () => {
  const stackFile = process.env.COUPON_STACK_FILE;
  const [stack, bundle] = await Promise.all([
    stackFile
      ? (JSON.parse(readFileSync(stackFile, "utf8")) as StackFile)
      : startLocalCloud({ root: join(dir, "cloud") }).then((c) => {
          ownCloud = c;
          return c;
        }),
    bundleWorker(join(dir, "bundle")),
  ]);
  worker = await startWorker({
    dir: join(dir, "worker"),
    bundle,
    host: "127.0.0.1",
    port: await freePort(),
    bindings: { JWT_SECRET, ADMIN_TOKEN, REQUEST_LOG: "off", ...workerBindings(stack) },
  });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await ownCloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const token = (sub: string) =>
  sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, "HS256");

/** A client for one user (a fresh JWT per call), that can also restore. */
const clientFor = (sub: string, fetch?: (r: Request) => Promise<Response>) =>
  new CouponClient({
    baseUrl: worker.url,
    token: () => token(sub),
    adminToken: ADMIN_TOKEN,
    fetch,
  });

async function createEvent(totalStock: number): Promise<string> {
  const id = `client-${crypto.randomUUID().slice(0, 8)}`;
  const admin = new CouponClient({ baseUrl: worker.url, adminToken: ADMIN_TOKEN });
  const { response } = await admin.api.POST("/v1/events", {
    body: {
      id,
      name: "Client test",
      totalStock,
      startsAt: new Date(Date.now() - 1000).toISOString(),
    },
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(201);
  return id;
}

describe("the typed client against the Worker", () => {
  it("claims, holds, redeems (retrying a lost answer), restores and lists", async () => {
    const eventId = await createEvent(10);
    const user = `alice-${crypto.randomUUID().slice(0, 8)}`;
    const client = clientFor(user);

    const first = await client.claim(eventId);
    expect(first).toMatchObject({ created: true, coupon: { eventId, userId: user } });
    const again = await client.claim(eventId);
    expect(again).toEqual({ created: false, coupon: first.coupon });
    const couponId = first.coupon.id;
    expect((await client.myCoupon(eventId)).id).toBe(couponId);

    const held = await client.hold(couponId, "order-1", 600);
    expect(held.hold).toMatchObject({ orderId: "order-1" });

    // The first redeem reaches the Worker but its answer is lost (a 503 in its place): the
    // client retries with the same Idempotency-Key, and the Worker answers the same coupon.
    const keys: (string | null)[] = [];
    let lose = true;
    const lossy = clientFor(user, async (request) => {
      keys.push(request.headers.get("Idempotency-Key"));
      const res = await fetch(request);
      if (!lose) return res;
      lose = false;
      await res.body?.cancel();
      return new Response(null, { status: 503, headers: { "Retry-After": "0" } });
    });
    const redeemed = await lossy.redeem(couponId, "order-1");
    expect(redeemed).toMatchObject({ id: couponId, status: "redeemed", orderId: "order-1" });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    // The same key for the same order again is the same answer; a new logical redeem for
    // another order is refused.
    expect(await client.redeem(couponId, "order-1", { idempotencyKey: keys[0] ?? "" })).toEqual(
      redeemed,
    );
    const other = await client.redeem(couponId, "order-2").catch((e: unknown) => e);
    expect(other).toMatchObject({ slug: "already-redeemed", status: 409 });

    const restored = await client.restore(couponId, "order-1");
    expect(restored).toMatchObject({ id: couponId, status: "issued", orderId: null });
    expect((await client.coupon(couponId)).status).toBe("issued");

    // The list reads MySQL, fed by the outbox: it may lag a few seconds.
    let listed: Coupon | undefined;
    for (const deadline = Date.now() + 20_000; !listed && Date.now() < deadline; ) {
      const page = await client.coupons();
      listed = page.items.find((c) => c.id === couponId);
      if (!listed) await new Promise((done) => setTimeout(done, 250));
    }
    expect(listed).toMatchObject({ id: couponId, eventId, userId: user });
  });

  it("turns problem+json answers into typed errors", async () => {
    const eventId = await createEvent(1);
    await clientFor(`first-${crypto.randomUUID().slice(0, 8)}`).claim(eventId);
    const late = clientFor(`late-${crypto.randomUUID().slice(0, 8)}`);

    const soldOut = await late.claim(eventId).catch((e: unknown) => e);
    expect(soldOut).toBeInstanceOf(CouponApiError);
    expect(soldOut).toMatchObject({ slug: "sold-out", status: 409 });

    const none = await late.myCoupon(eventId).catch((e: unknown) => e);
    expect(CouponApiError.is(none, "not-found")).toBe(true);

    const unknown = await late
      .coupon(`cpn_${"A".repeat(22)}.${eventId}`)
      .catch((e: unknown) => e as CouponApiError);
    expect(unknown).toMatchObject({ slug: "not-found", status: 404 });

    const noAuth = new CouponClient({ baseUrl: worker.url, token: "not-a-jwt" });
    await expect(noAuth.claim(eventId)).rejects.toMatchObject({
      slug: "unauthorized",
      status: 401,
    });
  });
});
