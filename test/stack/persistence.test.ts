/**
 * The local topic survives a restart: `npm start`'s Redis persists (AOF) under its data folder, so
 * the Kafka stand-in's records and a consumer group's committed offsets are there after a stop and
 * a start, as on a broker; `npm test`'s Redis is a throwaway that writes nothing. Process level:
 * the real local cloud (MariaDB, redis-server, gateway) started, stopped and started again.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningLocalCloud, startLocalCloud } from "../../local/cloud.ts";

const root = mkdtempSync(join(tmpdir(), "coupons-persist-"));
const TOPIC = "coupon-events";

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A request to the gateway's Upstash Kafka REST API. */
async function kafka(cloud: RunningLocalCloud, path: string, init: RequestInit = {}) {
  const { url, username, password } = cloud.kafka;
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Basic ${btoa(`${username}:${password}`)}`);
  const res = await fetch(`${url}${path}`, { ...init, headers });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<unknown>;
}

const produce = (cloud: RunningLocalCloud, values: string[]) =>
  kafka(cloud, "/produce", {
    method: "POST",
    body: JSON.stringify(values.map((value) => ({ topic: TOPIC, key: value, value }))),
  });

/** One poll of the README's consumer (group `look`, auto commit, from the earliest offset). */
async function consume(cloud: RunningLocalCloud, instance: string): Promise<string[]> {
  const records = (await kafka(cloud, `/consume/look/${instance}`, {
    method: "POST",
    headers: { "Kafka-Auto-Offset-Reset": "earliest" },
    body: JSON.stringify({ topic: TOPIC, timeout: 500 }),
  })) as { value: string }[];
  return records.map((r) => r.value).sort();
}

async function redisConfig(cloud: RunningLocalCloud, name: string): Promise<string | undefined> {
  const redis = new Redis(cloud.redis.url);
  try {
    const [, value] = (await redis.config("GET", name)) as string[];
    return value;
  } finally {
    redis.disconnect();
  }
}

describe("the local topic across restarts", () => {
  it("npm start's Redis keeps the topic and the committed offsets", async () => {
    const dir = join(root, "start");
    let cloud = await startLocalCloud({ root: dir, persistRedis: true });
    try {
      expect(await redisConfig(cloud, "appendonly")).toBe("yes");
      await produce(cloud, ["a", "b", "c"]);
      expect(await consume(cloud, "first")).toEqual(["a", "b", "c"]);
    } finally {
      // The gateway commits its consumers' positions as it stops; Redis writes its AOF.
      await cloud.stop();
    }
    expect(existsSync(join(dir, "redis", "appendonlydir"))).toBe(true);

    cloud = await startLocalCloud({ root: dir, persistRedis: true });
    try {
      const topics = (await kafka(cloud, "/topics")) as Record<string, number>;
      expect(topics[TOPIC]).toBe(3);
      await produce(cloud, ["d", "e"]);
      // The group resumes after what it had read: only the new records.
      expect(await consume(cloud, "second")).toEqual(["d", "e"]);
    } finally {
      await cloud.stop();
    }
  });

  it("npm test's Redis writes nothing and starts empty", async () => {
    const dir = join(root, "test");
    let cloud = await startLocalCloud({ root: dir });
    try {
      expect(await redisConfig(cloud, "appendonly")).toBe("no");
      expect(await redisConfig(cloud, "save")).toBe("");
      await produce(cloud, ["x"]);
    } finally {
      await cloud.stop();
    }
    expect(existsSync(join(dir, "redis", "appendonlydir"))).toBe(false);
    cloud = await startLocalCloud({ root: dir });
    try {
      expect(await kafka(cloud, "/topics")).toEqual({});
    } finally {
      await cloud.stop();
    }
  });
});
