import { afterEach, describe, expect, it, vi } from "vitest";
import { eventually, healAll, health, setApiRunning } from "../worker/cloud.ts";
import { claim, createEvent, getEvent, problemOf } from "../worker/helpers.ts";

afterEach(healAll);

// This project keeps the default per-user claim budget: 10 per 10 s.

describe("Redis slow or down", () => {
  it("a user over the budget is refused in the isolate, without asking Redis (still 429 with Redis stopped)", async () => {
    const event = await createEvent({ totalStock: 5 });
    // Fixed 10 s windows: start with at least 5 s of this one left (a bounded wait on the clock).
    await vi.waitFor(
      () => {
        if (10_000 - (Date.now() % 10_000) < 5_000) throw new Error("window ends too soon");
      },
      { timeout: 11_000, interval: 20 },
    );
    for (let i = 0; i < 10; i++)
      expect((await claim(event.id, "drummer")).status).toBeLessThan(300);
    expect((await problemOf(await claim(event.id, "drummer"))).type).toBe("/problems/rate-limited");

    await setApiRunning("upstashRedis", false);
    // Asking Redis now would fail open (and answer 200): a 429 means the isolate decided.
    expect((await claim(event.id, "drummer")).status).toBe(429);
  });

  it("claims keep working with Redis stopped (limits fail open) and /health says redis: retrying", async () => {
    const event = await createEvent({ totalStock: 50 });
    await setApiRunning("upstashRedis", false);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => claim(event.id, `no-redis-${i}`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(201));
    // Second claims of the same users go to Redis for their budget: failing open, they pass.
    const again = await Promise.all(
      Array.from({ length: 20 }, (_, i) => claim(event.id, `no-redis-${i}`)),
    );
    expect(again.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((await getEvent(event.id)).issued).toBe(20);

    const h = await eventually(health, (x) => x.sinks.redis === "retrying", {
      what: "redis: retrying in /health",
    });
    expect(h.status).toBe("degraded");

    await setApiRunning("upstashRedis", true);
    await eventually(health, (x) => x.sinks.redis === "ok", { what: "redis: ok again" });
  });
});
