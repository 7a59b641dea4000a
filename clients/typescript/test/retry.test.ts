/** The client's retries and errors against a fetch stub: no service, no real waiting. */
import { describe, expect, it } from "vitest";
import { CouponApiError, CouponClient } from "../src/index.ts";

const COUPON = {
  id: "cpn_4f9K2mQxT8vLpR3nZ0aB7c.back-to-school",
  eventId: "back-to-school",
  userId: "alice",
  status: "redeemed",
  issuedAt: "2026-09-12T14:00:00.412Z",
  expiresAt: null,
  redeemedAt: "2026-09-12T14:05:00.000Z",
  orderId: "order-1",
  hold: null,
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": status >= 400 ? "application/problem+json" : "application/json",
      ...headers,
    },
  });

const problem = (status: number, slug: string, headers: Record<string, string> = {}) =>
  json(status, { type: `/problems/${slug}`, title: slug, status, detail: `a ${slug}` }, headers);

/** A client whose fetch answers from `answers` in turn and records what it was sent. */
function stubbed(answers: Response[], opts: { maxAttempts?: number } = {}) {
  const sent: { url: string; key: string | null; turnstile: string | null; body: string }[] = [];
  const slept: number[] = [];
  const client = new CouponClient({
    baseUrl: "http://coupons.test",
    token: "user-jwt",
    adminToken: "admin",
    ...opts,
    fetch: async (request) => {
      sent.push({
        url: request.url,
        key: request.headers.get("Idempotency-Key"),
        turnstile: request.headers.get("CF-Turnstile-Response"),
        body: await request.text(),
      });
      const next = answers.shift();
      if (!next) throw new Error("no answer left");
      return next;
    },
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
  return { client, sent, slept };
}

describe("retries", () => {
  it("sends a claim's Turnstile token, again on the retry after a 503", async () => {
    const { client, sent } = stubbed([
      problem(503, "unavailable", { "Retry-After": "1" }),
      json(201, COUPON),
    ]);
    const { created } = await client.claim("back-to-school", { turnstileToken: "widget-token" });
    expect(created).toBe(true);
    expect(sent.map((s) => s.turnstile)).toEqual(["widget-token", "widget-token"]);
    const plain = stubbed([json(201, COUPON)]);
    await plain.client.claim("back-to-school");
    expect(plain.sent[0]?.turnstile).toBeNull();
  });

  it("retries a 429 after its Retry-After, with the same Idempotency-Key and body", async () => {
    const { client, sent, slept } = stubbed([
      problem(429, "rate-limited", { "Retry-After": "2" }),
      json(200, COUPON),
    ]);
    const coupon = await client.redeem(COUPON.id, "order-1");
    expect(coupon.status).toBe("redeemed");
    expect(slept).toEqual([2000]);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[1]?.key).toBe(sent[0]?.key);
    expect(sent[1]?.body).toBe(sent[0]?.body);
    expect(JSON.parse(sent[0]?.body ?? "")).toEqual({ orderId: "order-1" });
  });

  it("uses the caller's Idempotency-Key, and a new one per logical redeem", async () => {
    const { client, sent } = stubbed([json(200, COUPON), json(200, COUPON), json(200, COUPON)]);
    await client.redeem(COUPON.id, "order-1", { idempotencyKey: "order-1-redeem" });
    await client.redeem(COUPON.id, "order-1");
    await client.redeem(COUPON.id, "order-1");
    expect(sent[0]?.key).toBe("order-1-redeem");
    expect(sent[1]?.key).not.toBe(sent[2]?.key);
  });

  it("retries a 503 without Retry-After after the default wait", async () => {
    const { client, slept } = stubbed([problem(503, "unavailable"), json(201, COUPON)]);
    const { created } = await client.claim("back-to-school");
    expect(created).toBe(true);
    expect(slept).toEqual([1000]);
  });

  it("gives up after maxAttempts with the last answer as a typed error", async () => {
    const { client, sent, slept } = stubbed(
      [
        problem(503, "unavailable", { "Retry-After": "1" }),
        problem(503, "unavailable", { "Retry-After": "1" }),
        problem(503, "unavailable", { "Retry-After": "1" }),
      ],
      { maxAttempts: 3 },
    );
    const err = await client.coupon(COUPON.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CouponApiError);
    expect(err).toMatchObject({ slug: "unavailable", status: 503, retryAfter: 1 });
    expect(sent).toHaveLength(3);
    expect(slept).toEqual([1000, 1000]);
  });

  it("does not wait for a Retry-After beyond maxRetryAfterSeconds", async () => {
    const { client, slept } = stubbed([problem(429, "rate-limited", { "Retry-After": "120" })]);
    const err = await client.claim("back-to-school").catch((e: unknown) => e);
    expect(CouponApiError.is(err, "rate-limited")).toBe(true);
    expect(slept).toEqual([]);
  });

  it("never retries other errors", async () => {
    const { client, sent } = stubbed([problem(409, "sold-out")]);
    const err = await client.claim("back-to-school").catch((e: unknown) => e);
    expect(err).toMatchObject({ slug: "sold-out", status: 409, name: "CouponApiError" });
    expect(sent).toHaveLength(1);
  });
});

describe("errors", () => {
  it("keeps the problem's members (errors on 400)", async () => {
    const body = {
      type: "/problems/invalid-request",
      title: "Invalid request",
      status: 400,
      detail: "validation failed",
      errors: [{ path: "body.orderId", message: "Too small" }],
    };
    const { client } = stubbed([json(400, body)]);
    const err = await client.redeem(COUPON.id, "").catch((e: unknown) => e);
    expect(err).toMatchObject({ slug: "invalid-request", status: 400, problem: body });
  });

  it("reads an answer that is not problem+json as slug unknown", async () => {
    const { client } = stubbed([new Response("<html>bad gateway</html>", { status: 502 })]);
    const err = await client.coupons().catch((e: unknown) => e);
    expect(err).toMatchObject({ slug: "unknown", status: 502, problem: undefined });
  });

  it("restore needs the operator token", async () => {
    const client = new CouponClient({ baseUrl: "http://coupons.test", token: "t" });
    await expect(client.restore(COUPON.id, "order-1")).rejects.toThrow(/adminToken/);
  });
});
