/**
 * `@upstash/ratelimit` against the Upstash Redis REST stand-in: its Lua scripts (EVALSHA with the
 * EVAL fallback, Upstash-only shebang flags) must run and actually limit. Each test uses a prefix
 * of its own; the limiter state is also read straight from redis-server.
 */
import { randomBytes } from "node:crypto";
import { Ratelimit, type RatelimitConfig } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { getStack } from "./stack.ts";

const stack = getStack();
const redis = new Redis({ ...stack.upstashRedis, enableTelemetry: false });
const direct = new IORedis(stack.redis.url);
const run = randomBytes(4).toString("hex");

afterAll(async () => {
  await direct.quit();
});

/** A limiter on the stand-in, state under `prefix`; no ephemeral cache: every call asks Redis. */
function limiterOn(prefix: string, limiter: RatelimitConfig["limiter"]): Ratelimit {
  return new Ratelimit({ redis, limiter, prefix, ephemeralCache: false });
}

async function burst(limiter: Ratelimit, id: string, count: number) {
  const results = [];
  for (let i = 0; i < count; i++) {
    const r = await limiter.limit(id);
    await r.pending;
    results.push(r);
  }
  return results;
}

describe("@upstash/ratelimit", () => {
  it("a sliding window lets the limit through, then refuses", async () => {
    const prefix = `rl:${run}:sliding`;
    const limiter = limiterOn(prefix, Ratelimit.slidingWindow(5, "60 s"));
    const results = await burst(limiter, "user-1", 8);
    // The first five pass. Should the burst straddle a window boundary, the sliding estimate may
    // let one more through (floor of the weighted previous window), never two.
    expect(results.slice(0, 5).map((r) => r.success)).toEqual([true, true, true, true, true]);
    expect(results.slice(6).map((r) => r.success)).toEqual([false, false]);
    expect(results[0]?.limit).toBe(5);
    expect(results[0]?.remaining).toBe(4);
    expect(results[7]?.remaining).toBe(0);

    // Another identifier has its own budget.
    const other = await limiter.limit("user-2");
    expect(other.success).toBe(true);

    // The state lives in the real redis-server, under the limiter's prefix.
    const keys = await direct.keys(`${prefix}:user-1:*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it("getRemaining and resetUsedTokens work through the gateway", async () => {
    const prefix = `rl:${run}:reset`;
    const limiter = limiterOn(prefix, Ratelimit.slidingWindow(3, "60 s"));
    const results = await burst(limiter, "u", 4);
    expect(results[3]?.success).toBe(false);
    expect((await limiter.getRemaining("u")).remaining).toBe(0);
    await limiter.resetUsedTokens("u");
    expect((await limiter.limit("u")).success).toBe(true);
  });

  it("a fixed window and a token bucket limit too", async () => {
    const fixed = limiterOn(`rl:${run}:fixed`, Ratelimit.fixedWindow(2, "60 s"));
    const fixedResults = await burst(fixed, "u", 5);
    // Two pass; at most one window boundary can fall inside the burst, so five requests cannot
    // all pass (usually the last three are refused).
    expect(fixedResults.slice(0, 2).every((r) => r.success)).toBe(true);
    expect(fixedResults.filter((r) => !r.success).length).toBeGreaterThanOrEqual(1);

    const bucket = limiterOn(`rl:${run}:bucket`, Ratelimit.tokenBucket(1, "60 s", 3));
    const bucketResults = await burst(bucket, "u", 5);
    expect(bucketResults.map((r) => r.success)).toEqual([true, true, true, false, false]);
  });
});
