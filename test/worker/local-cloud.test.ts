import { env } from "cloudflare:workers";
import { Ratelimit } from "@upstash/ratelimit";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { servicesFor } from "../../platform/services.ts";

// The Worker's own client factories, inside workerd, against the local cloud's gateway: the code
// a deploy runs against PlanetScale and Upstash, with only URLs and credentials differing.
describe("the Worker reaches the local cloud with its production clients", () => {
  it("reads and writes Redis through the Upstash REST stand-in", async () => {
    const redis = servicesFor(env).redis;
    if (!redis) throw new Error("redis is not configured: run with `npm test`");
    const key = `worker-test:${crypto.randomUUID()}`;
    expect(await redis.set(key, { remaining: 42, state: "open" }, { px: 60_000 })).toBe("OK");
    expect(await redis.get(key)).toEqual({ remaining: 42, state: "open" });
    await redis.hset(`${key}:h`, { issued: 3, name: "행사 🎟️" });
    expect(await redis.hgetall(`${key}:h`)).toEqual({ issued: 3, name: "행사 🎟️" });
    const [n] = await redis
      .pipeline()
      .incr(`${key}:n`)
      .expire(`${key}:n`, 60)
      .exec<[number, number]>();
    expect(n).toBe(1);
    expect(
      await redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", [`${key}:n`], [41]),
    ).toBe(42);
    await redis.del(key, `${key}:h`, `${key}:n`);
  });

  it("runs @upstash/ratelimit's sliding window in workerd", async () => {
    const redis = servicesFor(env).redis;
    if (!redis) throw new Error("redis is not configured: run with `npm test`");
    const limiter = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(3, "60 s"),
      prefix: `worker-test-rl:${crypto.randomUUID()}`,
    });
    const results = [];
    for (let i = 0; i < 5; i++) results.push((await limiter.limit("user-1")).success);
    expect(results).toEqual([true, true, true, false, false]);
  });

  it("reads and writes MySQL through the PlanetScale HTTP stand-in with drizzle", async () => {
    const db = servicesFor(env).database;
    if (!db) throw new Error("DATABASE_URL is not configured: run with `npm test`");
    const table = `w_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
    await db.execute(sql.raw(`CREATE TABLE ${table} (id INT PRIMARY KEY, note VARCHAR(50))`));
    try {
      await db.execute(sql`INSERT INTO ${sql.raw(table)} (id, note) VALUES (${1}, ${"쿠폰 ✓"})`);
      const result = await db.execute(sql`SELECT note FROM ${sql.raw(table)} WHERE id = ${1}`);
      expect(result.rows).toEqual([{ note: "쿠폰 ✓" }]);
    } finally {
      await db.execute(sql.raw(`DROP TABLE ${table}`));
    }
  });
});
