import { describe, expect, it, vi } from "vitest";
import { api, asUser, createEvent, problemOf, uniqueId } from "../worker/helpers.ts";

// The budgets of this project (vitest.config.ts RATE_LIMITS): claims 3 per user per 10 s;
// `GET /v1/events/{id}` 4 per address per 10 s; `GET /problems/{slug}` 2 per address per 5 s;
// `GET /` 100 per address per 60 s (leases of 2).

/**
 * Fixed windows start at multiples of their length: waits (a condition on the clock, bounded
 * by one window) until at least `needMs` of the current one are left, so a sequence of
 * requests never straddles a reset.
 */
async function freshWindow(windowMs: number, needMs: number): Promise<void> {
  await vi.waitFor(
    () => {
      if (windowMs - (Date.now() % windowMs) < needMs) throw new Error("window ends too soon");
    },
    { timeout: windowMs + 1_000, interval: 20 },
  );
}

const claimAs = async (eventId: string, user: string, address: string) =>
  api(`/v1/events/${eventId}/claims`, {
    method: "POST",
    headers: { ...(await asUser(user)), "CF-Connecting-IP": address },
  });

describe("per-user claim budget", () => {
  it("the 4th claim of a user within 10 s is 429 rate-limited with Retry-After and RateLimit headers", async () => {
    const event = await createEvent({ totalStock: 10 });
    const address = `198.51.100.${Math.floor(Math.random() * 250)}`;
    await freshWindow(10_000, 5_000);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await claimAs(event.id, "hammer", address));
    expect(answers.map((r) => r.status)).toEqual([201, 200, 200]);
    for (const res of answers) {
      expect(res.headers.get("RateLimit-Policy")).toBe(
        `"address";q=1000000;w=60, "user-claims";q=3;w=10`,
      );
      expect(res.headers.get("RateLimit")).toMatch(
        /^"address";r=\d+;t=\d+, "user-claims";r=\d;t=\d+$/,
      );
    }
    expect(answers[2]?.headers.get("RateLimit")).toMatch(/"user-claims";r=0;/);

    const over = await claimAs(event.id, "hammer", address);
    expect(over.status).toBe(429);
    const problem = await problemOf(over);
    expect(problem.type).toBe("/problems/rate-limited");
    const retryAfter = Number(over.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(over.headers.get("RateLimit-Policy")).toContain(`"user-claims";q=3;w=10`);
    expect(over.headers.get("RateLimit")).toMatch(/"user-claims";r=0;t=\d+/);

    // Still blocked, and other users are not.
    expect((await claimAs(event.id, "hammer", address)).status).toBe(429);
    expect((await claimAs(event.id, "neighbour", address)).status).toBe(201);
  });

  it("a refused user is refused for the rest of the window only", async () => {
    const event = await createEvent({ totalStock: 10 });
    await freshWindow(10_000, 5_000);
    for (let i = 0; i < 3; i++) await claimAs(event.id, "patient", "198.51.100.7");
    expect((await claimAs(event.id, "patient", "198.51.100.7")).status).toBe(429);
    // The next window: allowed again (awaited as a condition, bounded by one window).
    await vi.waitFor(
      async () => expect((await claimAs(event.id, "patient", "198.51.100.7")).status).toBe(200),
      { timeout: 12_000, interval: 250 },
    );
  });
});

describe("per-address budgets", () => {
  it("a route's own budget: the 5th read of an event from one address within 10 s is 429; another address is not limited", async () => {
    const event = await createEvent();
    const address = `203.0.113.${Math.floor(Math.random() * 250)}`;
    const read = (from: string) =>
      api(`/v1/events/${event.id}`, { headers: { "CF-Connecting-IP": from } });
    await freshWindow(10_000, 5_000);
    for (let i = 0; i < 4; i++) {
      const res = await read(address);
      expect(res.status).toBe(200);
      expect(res.headers.get("RateLimit-Policy")).toBe(`"address-route-0";q=4;w=10`);
      expect(res.headers.get("RateLimit")).toMatch(
        new RegExp(`^"address-route-0";r=${3 - i};t=\\d+$`),
      );
    }
    const over = await read(address);
    expect(over.status).toBe(429);
    expect((await problemOf(over)).type).toBe("/problems/rate-limited");
    expect(Number(over.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect((await read(`${address}1`)).status).toBe(200);
  });

  it("windows reset: 2 per 5 s on /problems/{slug}, then allowed again", async () => {
    const address = uniqueId("addr");
    const explain = () => api("/problems/sold-out", { headers: { "CF-Connecting-IP": address } });
    await freshWindow(5_000, 3_000);
    expect((await explain()).status).toBe(200);
    expect((await explain()).status).toBe(200);
    expect((await explain()).status).toBe(429);
    await vi.waitFor(async () => expect((await explain()).status).toBe(200), {
      timeout: 7_000,
      interval: 100,
    });
  });

  it("every answer of a limited route carries the headers, refusals and 404s included", async () => {
    const res = await api(`/v1/events/${uniqueId("nope")}`, {
      headers: { "CF-Connecting-IP": uniqueId("addr") },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("RateLimit-Policy")).toBe(`"address-route-0";q=4;w=10`);
    expect(res.headers.get("RateLimit")).toMatch(/^"address-route-0";r=3;t=\d+$/);
  });
});

describe("a busy address", () => {
  it("100 concurrent requests from one address share its leases: about its budget passes, then 429", async () => {
    const address = uniqueId("office");
    const root = () => api("/", { headers: { "CF-Connecting-IP": address } });
    await freshWindow(60_000, 20_000);
    const answers = await Promise.all(Array.from({ length: 100 }, root));
    const passed = answers.filter((r) => r.status === 200).length;
    // A lease larger than what is left fails whole: at most one lease (2) short of the budget.
    expect(passed).toBeGreaterThanOrEqual(98);
    const after: number[] = [];
    for (let i = 0; i < 5; i++) after.push((await root()).status);
    // While a check is out one more lease may pass (isolate-local, reported with the next
    // check): at most a lease (2) over the budget in all, then every request is refused.
    const total = passed + after.filter((status) => status === 200).length;
    expect(total).toBeLessThanOrEqual(102);
    expect(after.slice(-3)).toEqual([429, 429, 429]);
  });
});
