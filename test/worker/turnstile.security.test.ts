import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { controlFetch } from "../../local/gateway/control-client.ts";
import type { GatewayStats } from "../../local/gateway/server.ts";
import { TEST_SECRETS } from "../../local/gateway/turnstile.ts";
import { buildApp } from "../../src/app.ts";
import { TURNSTILE_HEADER } from "../../src/middleware/turnstile.ts";
import { setApiRunning, stack, stats } from "./cloud.ts";
import { asUser, createEvent, ORIGIN } from "./helpers.ts";

/**
 * Turnstile on claims (TURNSTILE_SECRET set): the Worker spends each token at siteverify (the
 * local cloud's stand-in, which mints single-use tokens as the widget would get them) and lets
 * nothing but a good, unused token reach the event. Every refusal leaves the stock as it was.
 */
const app = buildApp();
const { turnstile } = stack();
const withTurnstile = (secret: string) => ({
  ...env,
  TURNSTILE_SECRET: secret,
  TURNSTILE_SITE_KEY: "local-site-key",
  TURNSTILE_VERIFY_URL: `${turnstile.url}/turnstile/v0/siteverify`,
});
const bindings = withTurnstile(turnstile.secret);

async function claim(eventId: string, user: string, token?: string, on: object = bindings) {
  const headers: Record<string, string> = await asUser(user);
  if (token !== undefined) headers[TURNSTILE_HEADER] = token;
  const ctx = createExecutionContext();
  const res = await app.request(
    `${ORIGIN}/v1/events/${eventId}/claims`,
    { method: "POST", headers },
    on,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** A fresh token, as the widget hands one to the page (solved where and for what `solved` says). */
async function mint(solved: { hostname?: string; action?: string } = {}): Promise<string> {
  const res = await fetch(`${turnstile.url}/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(solved),
  });
  return ((await res.json()) as { token: string }).token;
}

async function siteverifyCalls(): Promise<number> {
  const res = await controlFetch(stack().gatewayControl, "/stats");
  return ((await res.json()) as GatewayStats).turnstile.requests;
}

async function expectRefused(res: Response, reason: string): Promise<void> {
  expect(res.status).toBe(403);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  expect(await res.json()).toMatchObject({
    type: "/problems/forbidden",
    challenge: "turnstile",
    reason,
  });
}

/** Asked of the event's object itself (an isolate's snapshot of another env may lag a second). */
const issued = async (id: string) => (await stats(id)).event.issued;

afterEach(async () => {
  await setApiRunning("turnstile", true);
});

describe("Turnstile on claims", () => {
  it("refuses a claim without a token, without asking siteverify, and issues nothing", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    const before = await siteverifyCalls();
    await expectRefused(await claim(id, "alice"), "missing");
    await expectRefused(await claim(id, "alice", ""), "missing");
    expect(await siteverifyCalls()).toBe(before);
    expect(await issued(id)).toBe(0);
  });

  it("refuses invalid tokens: forged, over 2048 characters, or failed by Cloudflare", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    await expectRefused(await claim(id, "alice", "forged.token.value"), "invalid");
    await expectRefused(await claim(id, "alice", "x".repeat(2049)), "invalid");
    const failing = withTurnstile(TEST_SECRETS.fail);
    await expectRefused(await claim(id, "alice", await mint(), failing), "invalid");
    expect(await issued(id)).toBe(0);
  });

  it("a good token claims once; replayed by anyone it is refused before siteverify", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    const token = await mint();
    const first = await claim(id, "alice", token);
    expect(first.status).toBe(201);
    const before = await siteverifyCalls();
    await expectRefused(await claim(id, "bob", token), "replayed");
    await expectRefused(await claim(id, "alice", token), "replayed");
    // The service's own record of spent tokens refused them: siteverify was not asked again.
    expect(await siteverifyCalls()).toBe(before);
    expect(await issued(id)).toBe(1);
  });

  it("a token siteverify calls already spent is refused even when this service never saw it", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    const spent = withTurnstile(TEST_SECRETS.spent);
    await expectRefused(await claim(id, "carol", await mint(), spent), "replayed");
    expect(await issued(id)).toBe(0);
  });

  it("fails closed while siteverify is down (503, Retry-After); the same token works after", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    const token = await mint();
    await setApiRunning("turnstile", false);
    const down = await claim(id, "dave", token);
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).toBe("1");
    expect(await down.json()).toMatchObject({ type: "/problems/unavailable" });
    expect(await issued(id)).toBe(0);

    await setApiRunning("turnstile", true);
    // Cloudflare never saw the token spent, and neither does the service.
    expect((await claim(id, "dave", token)).status).toBe(201);
    expect(await issued(id)).toBe(1);
  });

  it("refuses a token solved for another widget action, and issues nothing", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    for (const action of ["login", "", "Claim", "claim ", " claim", "claim\u0000", "claims"]) {
      await expectRefused(await claim(id, "frank", await mint({ action })), "invalid");
    }
    expect(await issued(id)).toBe(0);
    expect((await claim(id, "frank", await mint({ action: "claim" }))).status).toBe(201);
  });

  it("with TURNSTILE_HOSTNAMES, refuses a token solved on any other site, and issues nothing", async () => {
    const { id } = await createEvent({ totalStock: 5 });
    const listed = { ...bindings, TURNSTILE_HOSTNAMES: "shop.example, coupons.test" };
    const foreign = [
      "evil.example",
      "shop.example.evil.example",
      "evilshop.example",
      "sub.shop.example",
      "coupons.test.",
      "localhost",
      "",
      "shop.example:443",
    ];
    for (const hostname of foreign) {
      await expectRefused(await claim(id, "gina", await mint({ hostname }), listed), "invalid");
    }
    expect(await issued(id)).toBe(0);
    expect((await claim(id, "gina", await mint({ hostname: "shop.example" }), listed)).status).toBe(
      201,
    );
    expect((await claim(id, "hal", await mint({ hostname: "Coupons.Test" }), listed)).status).toBe(
      201,
    );
    // Unset, any hostname passes (the local default).
    expect((await claim(id, "ivy", await mint({ hostname: "evil.example" }))).status).toBe(201);
  });

  it("fails closed while the replay guard's Redis is down (503, siteverify not asked); the same token works after", async () => {
    const { id } = await createEvent({ totalStock: 3 });
    const token = await mint();
    // Redis configured but unreachable (a closed port), for this request only.
    const noRedis = { ...bindings, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    const before = await siteverifyCalls();
    const down = await claim(id, "jack", token, noRedis);
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).toBe("1");
    expect(await down.json()).toMatchObject({ type: "/problems/unavailable" });
    expect(await siteverifyCalls()).toBe(before);
    expect(await issued(id)).toBe(0);
    expect((await claim(id, "jack", token)).status).toBe(201);
  });

  it("is off by default: the same claim without TURNSTILE_SECRET needs no token", async () => {
    const { id } = await createEvent({ totalStock: 1 });
    expect((await claim(id, "erin", undefined, env)).status).toBe(201);
  });
});
