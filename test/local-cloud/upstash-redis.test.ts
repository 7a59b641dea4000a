/**
 * Conformance of the Upstash Redis REST stand-in with the official client, `@upstash/redis`, used
 * exactly as against the real service (only URL and token differ), plus the wire shapes the
 * client relies on (`{result}` / `{error}`, base64 response encoding, status codes). Every test
 * uses keys of its own (`conf:<random>:…`).
 */
import { createHash, randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { getStack, requestBody } from "./stack.ts";

const stack = getStack();
const { url, token } = stack.upstashRedis;
const redis = new Redis({ url, token, enableTelemetry: false });
const run = randomBytes(4).toString("hex");
let n = 0;
/** A key prefix unique to the calling test. */
const prefix = () => `conf:${run}:${++n}`;

async function raw(
  path: string,
  init: { body?: unknown; headers?: Record<string, string>; method?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? "POST",
    headers: { authorization: `Bearer ${token}`, ...init.headers },
    body: requestBody(init.body),
  });
  return { status: res.status, json: await res.json() };
}

describe("strings", () => {
  it("set/get/incr/expire round-trip, including non-ASCII and JSON values", async () => {
    const p = prefix();
    expect(await redis.set(`${p}:s`, "héllo ✓ 日本")).toBe("OK");
    expect(await redis.get(`${p}:s`)).toBe("héllo ✓ 日本");
    expect(await redis.set(`${p}:obj`, { a: 1, b: ["x"] })).toBe("OK");
    expect(await redis.get(`${p}:obj`)).toEqual({ a: 1, b: ["x"] });
    expect(await redis.incr(`${p}:n`)).toBe(1);
    expect(await redis.incrby(`${p}:n`, 41)).toBe(42);
    expect(await redis.get(`${p}:n`)).toBe(42);
    expect(await redis.set(`${p}:ttl`, "v", { ex: 100 })).toBe("OK");
    const ttl = await redis.ttl(`${p}:ttl`);
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.set(`${p}:s`, "other", { nx: true })).toBeNull();
    expect(await redis.mget(`${p}:s`, `${p}:missing`, `${p}:n`)).toEqual([
      "héllo ✓ 日本",
      null,
      42,
    ]);
    expect(await redis.del(`${p}:s`, `${p}:n`)).toBe(2);
    expect(await redis.get(`${p}:s`)).toBeNull();
  });

  it("answers {result} with base64-encoded strings (except OK) when asked, plain otherwise", async () => {
    const p = prefix();
    const b64 = { "upstash-encoding": "base64" };
    expect(await raw("/", { body: ["SET", `${p}:k`, "bar"], headers: b64 })).toEqual({
      status: 200,
      json: { result: "OK" },
    });
    expect(await raw("/", { body: ["GET", `${p}:k`], headers: b64 })).toEqual({
      status: 200,
      json: { result: Buffer.from("bar").toString("base64") },
    });
    expect(await raw("/", { body: ["PING"], headers: b64 })).toEqual({
      status: 200,
      json: { result: Buffer.from("PONG").toString("base64") },
    });
    expect(await raw("/", { body: ["GET", `${p}:k`] })).toEqual({
      status: 200,
      json: { result: "bar" },
    });
  });
});

describe("hashes", () => {
  it("hset/hget/hgetall/hincrby/hdel", async () => {
    const p = prefix();
    expect(await redis.hset(`${p}:h`, { name: "coupon", stock: 10, tags: ["a"] })).toBe(3);
    expect(await redis.hget(`${p}:h`, "name")).toBe("coupon");
    expect(await redis.hincrby(`${p}:h`, "stock", -3)).toBe(7);
    expect(await redis.hgetall(`${p}:h`)).toEqual({ name: "coupon", stock: 7, tags: ["a"] });
    expect(await redis.hmget(`${p}:h`, "name", "nope")).toEqual({ name: "coupon", nope: null });
    expect(await redis.hdel(`${p}:h`, "tags")).toBe(1);
    expect(await redis.hlen(`${p}:h`)).toBe(2);
    expect(await redis.hgetall(`${p}:missing`)).toBeNull();
  });
});

describe("sorted sets", () => {
  it("zadd/zrange/zscore/zincrby/zrank/zrem", async () => {
    const p = prefix();
    const key = `${p}:z`;
    expect(
      await redis.zadd(
        key,
        { score: 3, member: "c" },
        { score: 1, member: "a" },
        { score: 2, member: "b" },
      ),
    ).toBe(3);
    expect(await redis.zrange(key, 0, -1)).toEqual(["a", "b", "c"]);
    expect(await redis.zrange(key, 0, -1, { withScores: true })).toEqual(["a", 1, "b", 2, "c", 3]);
    expect(await redis.zscore(key, "b")).toBe(2);
    expect(await redis.zincrby(key, 2.5, "a")).toBe(3.5);
    expect(await redis.zrank(key, "a")).toBe(2);
    expect(await redis.zrange(key, 3, 10, { byScore: true })).toEqual(["c", "a"]);
    expect(await redis.zrem(key, "c")).toBe(1);
    expect(await redis.zcard(key)).toBe(2);
  });
});

describe("pipeline", () => {
  it("runs the commands in order and answers one result per command", async () => {
    const p = prefix();
    const results = await redis
      .pipeline()
      .set(`${p}:a`, "1")
      .incr(`${p}:a`)
      .hset(`${p}:h`, { f: "v" })
      .zadd(`${p}:z`, { score: 1, member: "m" })
      .get(`${p}:a`)
      .exec();
    expect(results).toEqual(["OK", 2, 1, 1, 2]);
  });

  it("reports a failing command in its own slot", async () => {
    const p = prefix();
    await redis.set(`${p}:s`, "not a number");
    const results = await redis.pipeline().incr(`${p}:s`).get(`${p}:s`).exec({ keepErrors: true });
    expect(results[0]?.error).toMatch(/not an integer/);
    expect(results[1]).toEqual({ error: undefined, result: "not a number" });
    await expect(redis.pipeline().incr(`${p}:s`).exec()).rejects.toThrow(/not an integer/);
  });
});

describe("multi-exec", () => {
  it("runs a transaction and answers every command's result", async () => {
    const p = prefix();
    const results = await redis
      .multi()
      .set(`${p}:k`, "v")
      .get(`${p}:k`)
      .incrby(`${p}:n`, 5)
      .hset(`${p}:h`, { a: 1 })
      .exec();
    expect(results).toEqual(["OK", "v", 5, 1]);
  });

  it("keeps concurrent transactions from interleaving", async () => {
    const p = prefix();
    const key = `${p}:counter`;
    const all = await Promise.all(
      Array.from({ length: 25 }, () => redis.multi().incr(key).incr(key).incr(key).exec()),
    );
    for (const [a, b, c] of all as [number, number, number][]) {
      expect(b).toBe(a + 1);
      expect(c).toBe(a + 2);
    }
    expect(await redis.get(key)).toBe(75);
  });

  it("discards the whole transaction when a command cannot be queued", async () => {
    const p = prefix();
    const res = await raw("/multi-exec", {
      body: [
        ["SET", `${p}:k`, "v"],
        ["NOSUCHCOMMAND", "x"],
      ],
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: expect.stringMatching(/unknown command/i) });
    expect(await redis.exists(`${p}:k`)).toBe(0);
  });
});

describe("EVAL / EVALSHA", () => {
  it("evaluates scripts, loads them and runs them by SHA1", async () => {
    const p = prefix();
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7}";
    expect(await redis.eval(script, [`${p}:e`], ["val"])).toEqual(["val", 7]);
    const sha = await redis.scriptLoad(script);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [`${p}:e`], ["again"])).toEqual(["again", 7]);
    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("accepts Upstash-only shebang flags and keeps the client's SHA1 for them", async () => {
    const p = prefix();
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
    expect(await redis.eval(script, [`${p}:c`], [])).toBe(1);
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(createHash("sha1").update(script).digest("hex"));
    expect(await redis.evalsha(sha, [`${p}:c`], [])).toBe(2);
    expect(await redis.scriptExists(sha)).toEqual([1]);
  });
});

describe("errors", () => {
  it("answers 401 {error} for a wrong or missing token", async () => {
    const wrong = new Redis({ url, token: "not-the-token", retry: false, enableTelemetry: false });
    await expect(wrong.get("x")).rejects.toThrow(/WRONGPASS/);
    const res = await raw("/", { body: ["GET", "x"], headers: { authorization: "Bearer nope" } });
    expect(res).toEqual({ status: 401, json: { error: expect.stringMatching(/^WRONGPASS/) } });
    const missing = await fetch(`${url}/`, { method: "POST", body: '["GET","x"]' });
    expect(missing.status).toBe(401);
  });

  it("answers 400 {error} for a bad request or a failing command", async () => {
    expect(await raw("/", { body: "{not json" })).toEqual({
      status: 400,
      json: { error: expect.stringMatching(/^ERR/) },
    });
    expect(await raw("/", { body: { not: "an array" } })).toEqual({
      status: 400,
      json: { error: expect.stringMatching(/^ERR/) },
    });
    expect(await raw("/", { body: ["GET"] })).toEqual({
      status: 400,
      json: { error: expect.stringMatching(/wrong number of arguments/) },
    });
    expect(await raw("/pipeline", { body: ["SET", "a", "b"] })).toEqual({
      status: 400,
      json: { error: expect.stringMatching(/^ERR/) },
    });
    expect((await raw("/get/x")).status).toBe(404);
    expect((await raw("/", { body: ["SELECT", "1"] })).json).toEqual({
      error: expect.stringMatching(/not available over the REST API/),
    });
    await expect(redis.lpush(prefix(), "")).resolves.toBe(1);
    const p = prefix();
    await redis.set(p, "string");
    await expect(redis.lpush(p, "x")).rejects.toThrow(/WRONGTYPE/);
  });
});
