/**
 * Conformance of the Kafka-over-HTTP stand-in: the Upstash Kafka REST protocol with the official
 * client, `@upstash/kafka` (only URL and credentials differ from production), and a Kafka REST
 * Proxy v2 produce/consume round trip with plain `fetch`. Every test uses topics and consumer
 * groups of its own (`conf-<random>-…`).
 */
import { randomBytes } from "node:crypto";
import { type Consumer, Kafka, type Message } from "@upstash/kafka";
import { describe, expect, it } from "vitest";
import { getStack, requestBody } from "./stack.ts";

const stack = getStack();
const { url, username, password } = stack.kafka;
const kafka = new Kafka({ url, username, password });
const auth = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
const run = randomBytes(4).toString("hex");
let n = 0;
/** A topic / group name unique to the calling test. */
const unique = (what: string) => `conf-${run}-${what}-${++n}`;

const V2 = "application/vnd.kafka.v2+json";
const V2_JSON = "application/vnd.kafka.json.v2+json";
const V2_BINARY = "application/vnd.kafka.binary.v2+json";

/** Calls `poll` until `want` messages arrived (or fails after `ms`). */
async function collect<T>(want: number, poll: () => Promise<T[]>, ms = 15_000): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + ms;
  while (out.length < want) {
    if (Date.now() > deadline) {
      throw new Error(`got ${out.length} of ${want} messages within ${ms} ms`);
    }
    out.push(...(await poll()));
  }
  return out;
}

/**
 * `consume(instanceId)()` polls `topic` once as that instance of `group`: from the earliest offset,
 * committing only when the test commits.
 */
function fromEarliest(consumer: Consumer, group: string, topic: string) {
  return (instanceId: string) => () =>
    consumer.consume({
      consumerGroupId: group,
      instanceId,
      topics: [topic],
      autoCommit: false,
      autoOffsetReset: "earliest",
      timeout: 1000,
    });
}

async function v2(
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; accept?: string; authHeader?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { authorization: opts.authHeader ?? auth };
  if (opts.body !== undefined) headers["content-type"] = opts.contentType ?? V2;
  if (opts.accept) headers.accept = opts.accept;
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: requestBody(opts.body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
}

describe("@upstash/kafka", () => {
  it("produceMany answers one metadata per message, keyed messages share a partition", async () => {
    const topic = unique("produce");
    const res = await kafka.producer().produceMany([
      { topic, value: "a", key: "coupon-1" },
      { topic, value: { n: 2 }, key: "coupon-1" },
      { topic, value: "c", key: "coupon-2", headers: [{ key: "h", value: "v" }] },
      { topic, value: "d", partition: 2 },
    ]);
    expect(res).toHaveLength(4);
    for (const r of res) {
      expect(r.topic).toBe(topic);
      expect(r.partition).toBeGreaterThanOrEqual(0);
      expect(typeof r.timestamp).toBe("number");
    }
    expect(res[1]?.partition).toBe(res[0]?.partition);
    expect(res[1]?.offset).toBe((res[0]?.offset ?? -2) + 1);
    expect(res[3]?.partition).toBe(2);

    const single = await kafka.producer().produce(topic, "e", { partition: 2 });
    expect(single).toMatchObject({ topic, partition: 2, offset: (res[3]?.offset ?? -2) + 1 });

    const topics = await kafka.admin().topics();
    expect(topics[topic]).toBeGreaterThanOrEqual(3);

    const fetched = await kafka
      .consumer()
      .fetch({ topic, partition: 2, offset: res[3]?.offset ?? 0, timeout: 1000 });
    expect(fetched.map((m) => m.value)).toEqual(["d", "e"]);
    const keyed = await kafka.consumer().fetch({
      topic,
      partition: res[0]?.partition ?? 0,
      offset: res[0]?.offset ?? 0,
      timeout: 1000,
    });
    expect(keyed.slice(0, 2).map((m) => [m.key, m.value])).toEqual([
      ["coupon-1", "a"],
      ["coupon-1", '{"n":2}'],
    ]);
  });

  it("consumes in a group, commits, and a new instance resumes after the committed offsets", async () => {
    const topic = unique("group");
    const group = unique("g");
    const producer = kafka.producer();
    const consumer = kafka.consumer();
    const first = Array.from({ length: 6 }, (_, i) => ({
      topic,
      value: `first-${i}`,
      key: `k${i}`,
    }));
    await producer.produceMany(first);

    const consume = fromEarliest(consumer, group, topic);
    const got = await collect<Message>(6, consume("i1"));
    expect(got.map((m) => m.value).sort()).toEqual(first.map((m) => m.value).sort());
    for (const m of got) expect(m.key).toBe(`k${m.value.slice("first-".length)}`);

    // Nothing is committed until the consumer commits (auto commit is off).
    const partitions = [0, 1, 2].map((partition) => ({ topic, partition }));
    const before = await consumer.committed({
      consumerGroupId: group,
      instanceId: "i1",
      topicPartitions: partitions,
    });
    expect(before.map((o) => o.offset)).toEqual([-1, -1, -1]);

    await consumer.commit({ consumerGroupId: group, instanceId: "i1" });
    const after = await consumer.committed({
      consumerGroupId: group,
      instanceId: "i1",
      topicPartitions: partitions,
    });
    const latest = await kafka
      .admin()
      .topicPartitionOffsets({ timestamp: "latest", topicPartitions: partitions });
    expect(after.map((o) => o.offset)).toEqual(latest.map((o) => o.offset));

    const consumers = await kafka.admin().consumers();
    const mine = consumers.find((g) => g.name === group);
    expect(mine?.instances.map((i) => i.name)).toEqual(["i1"]);
    await kafka.admin().removeConsumerInstance(group, "i1");

    const second = Array.from({ length: 3 }, (_, i) => ({ topic, value: `second-${i}` }));
    await producer.produceMany(second);
    const resumed = await collect<Message>(3, consume("i2"));
    expect(resumed.map((m) => m.value).sort()).toEqual(second.map((m) => m.value).sort());
    // Nothing more: the first batch was committed, the second one was just consumed.
    expect(await consume("i2")()).toEqual([]);
    await kafka.admin().removeConsumerInstance(group, "i2");
  });

  it("commits an explicit offset and resumes exactly there", async () => {
    const topic = unique("explicit");
    const group = unique("g");
    const values = ["m0", "m1", "m2", "m3"];
    await kafka.producer().produceMany(values.map((value) => ({ topic, value, partition: 0 })));
    const consumer = kafka.consumer();
    const consume = fromEarliest(consumer, group, topic);
    const got = await collect<Message>(4, consume("a"));
    const m1 = got.find((m) => m.value === "m1") as Message;
    // Kafka convention: the committed offset is the next one to read.
    await consumer.commit({
      consumerGroupId: group,
      instanceId: "a",
      offset: { topic, partition: 0, offset: m1.offset + 1 },
    });
    await kafka.admin().removeConsumerInstance(group, "a");
    const resumed = await collect<Message>(2, consume("b"));
    expect(resumed.map((m) => m.value)).toEqual(["m2", "m3"]);
    await kafka.admin().removeConsumerInstance(group, "b");
  });

  it("spreads a topic's partitions over the instances of a group", async () => {
    const topic = unique("spread");
    const group = unique("g");
    const consumer = kafka.consumer();
    const consume = (instanceId: string) => () =>
      consumer.consume({ consumerGroupId: group, instanceId, topics: [topic], timeout: 200 });
    // Both instances join (reading from the latest offsets) before anything is produced.
    await kafka.producer().produce(topic, "before", { partition: 0 });
    expect(await consume("x")()).toEqual([]);
    expect(await consume("y")()).toEqual([]);
    const values = Array.from({ length: 9 }, (_, i) => `v${i}`);
    await kafka
      .producer()
      .produceMany(values.map((value, i) => ({ topic, value, partition: i % 3 })));

    const gotX = await collect<Message>(6, consume("x"));
    const gotY = await collect<Message>(3, consume("y"));
    expect([...gotX, ...gotY].map((m) => m.value).sort()).toEqual(values);
    const groups = await kafka.admin().consumers();
    const instances = groups.find((g) => g.name === group)?.instances ?? [];
    const owned = (name: string) =>
      instances.find((i) => i.name === name)?.topics.flatMap((t) => t.partitions) ?? [];
    expect([...owned("x"), ...owned("y")].sort()).toEqual([0, 1, 2]);
    for (const m of gotX) expect(owned("x")).toContain(m.partition);
    for (const m of gotY) expect(owned("y")).toContain(m.partition);
    await kafka.admin().removeConsumerInstance(group, "x");
    await kafka.admin().removeConsumerInstance(group, "y");
  });

  it("answers 401 {error, status} for wrong credentials", async () => {
    const res = await fetch(`${url}/topics`, {
      headers: { authorization: `Basic ${Buffer.from(`${username}:wrong`).toString("base64")}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.any(String), status: 401 });
    const missing = await fetch(`${url}/produce/x/y`);
    expect(missing.status).toBe(401);
  });

  it("answers 400 {error, status} for a bad request", async () => {
    const post = (path: string, body: string) =>
      fetch(`${url}${path}`, { method: "POST", headers: { authorization: auth }, body });
    const noValue = await post("/produce", JSON.stringify({ topic: unique("bad") }));
    expect(noValue.status).toBe(400);
    expect(await noValue.json()).toEqual({ error: expect.stringMatching(/value/), status: 400 });
    const malformed = await post("/produce", "{nope");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: expect.any(String), status: 400 });
    const badTopic = await post("/produce/bad topic!/x", "");
    expect(badTopic.status).toBe(400);
  });
});

describe("Kafka REST Proxy v2", () => {
  it("produce JSON records, consume them in a group, commit, resume, delete the consumer", async () => {
    const topic = unique("v2");
    const group = unique("g");
    const records = [
      { key: "coupon-1", value: { claim: 1, user: "ann" } },
      { key: "coupon-1", value: { claim: 2, user: "bob" } },
      { key: "coupon-2", value: ["x", 3] },
      { value: 53.5 },
    ];
    const produced = await v2("POST", `/topics/${topic}`, {
      body: { records },
      contentType: V2_JSON,
      accept: V2,
    });
    expect(produced.status).toBe(200);
    const body = produced.json as {
      key_schema_id: null;
      value_schema_id: null;
      offsets: { partition: number; offset: number; error_code: null; error: null }[];
    };
    expect(body.key_schema_id).toBeNull();
    expect(body.offsets).toHaveLength(4);
    for (const o of body.offsets) expect(o).toMatchObject({ error_code: null, error: null });
    expect(body.offsets[1]?.partition).toBe(body.offsets[0]?.partition);

    const meta = await v2("GET", `/topics/${topic}`, { accept: V2 });
    expect(meta.status).toBe(200);
    expect((meta.json as { name: string }).name).toBe(topic);

    const created = await v2("POST", `/consumers/${group}`, {
      body: {
        name: "c1",
        format: "json",
        "auto.offset.reset": "earliest",
        "auto.commit.enable": "false",
      },
    });
    expect(created.status).toBe(200);
    const { instance_id, base_uri } = created.json as { instance_id: string; base_uri: string };
    expect(instance_id).toBe("c1");
    expect(base_uri).toMatch(new RegExp(`/consumers/${group}/instances/c1$`));
    const base = new URL(base_uri).pathname;

    expect((await v2("POST", `${base}/subscription`, { body: { topics: [topic] } })).status).toBe(
      204,
    );
    expect((await v2("GET", `${base}/subscription`, { accept: V2 })).json).toEqual({
      topics: [topic],
    });

    type V2Record = {
      topic: string;
      key: unknown;
      value: unknown;
      partition: number;
      offset: number;
    };
    const poll = async () => {
      const res = await v2("GET", `${base}/records?timeout=1000`, { accept: V2_JSON });
      expect(res.status).toBe(200);
      return res.json as V2Record[];
    };
    const got = await collect<V2Record>(4, poll);
    const byClaim = got
      .filter((r) => typeof r.value === "object" && r.value !== null && "claim" in r.value)
      .sort((a, b) => a.offset - b.offset);
    expect(byClaim.map((r) => [r.key, r.value])).toEqual([
      ["coupon-1", { claim: 1, user: "ann" }],
      ["coupon-1", { claim: 2, user: "bob" }],
    ]);
    expect(got.find((r) => r.key === null)?.value).toBe(53.5);
    expect(got.every((r) => r.topic === topic)).toBe(true);

    // Commit what was read: per partition, the next offset to read.
    const next = new Map<number, number>();
    for (const r of got) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
    const commit = await v2("POST", `${base}/offsets`, {
      body: {
        offsets: [...next].map(([partition, offset]) => ({ topic, partition, offset })),
      },
    });
    expect(commit.status).toBeLessThan(300);
    expect((await v2("DELETE", base)).status).toBe(204);
    const gone = await v2("GET", `${base}/records`, { accept: V2_JSON });
    expect(gone).toEqual({
      status: 404,
      json: { error_code: 40403, message: expect.any(String) },
    });

    // A new instance of the group resumes after the committed offsets.
    await v2("POST", `/topics/${topic}`, {
      body: { records: [{ key: "coupon-3", value: { claim: 3 } }] },
      contentType: V2_JSON,
    });
    await v2("POST", `/consumers/${group}`, {
      body: { name: "c2", format: "json", "auto.offset.reset": "earliest" },
    });
    const base2 = `/consumers/${group}/instances/c2`;
    await v2("POST", `${base2}/subscription`, { body: { topics: [topic] } });
    const poll2 = async () =>
      (await v2("GET", `${base2}/records?timeout=1000`, { accept: V2_JSON })).json as V2Record[];
    const resumed = await collect<V2Record>(1, poll2);
    expect(resumed.map((r) => [r.key, r.value])).toEqual([["coupon-3", { claim: 3 }]]);
    expect(await poll2()).toEqual([]);
    expect((await v2("DELETE", base2)).status).toBe(204);
  });

  it("binary embedded format round trip, and records produced by the Upstash protocol", async () => {
    const topic = unique("bin");
    const group = unique("g");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    // The first request creates the topic (auto-create); the second names the partition in the path.
    const first = await v2("POST", `/topics/${topic}`, {
      body: { records: [{ key: b64("key"), value: b64("confluent"), partition: 1 }] },
      contentType: V2_BINARY,
    });
    const second = await v2("POST", `/topics/${topic}/partitions/1`, {
      body: { records: [{ value: b64("kafka") }] },
      contentType: V2_BINARY,
    });
    expect([first.json, second.json]).toEqual([
      {
        key_schema_id: null,
        value_schema_id: null,
        offsets: [{ partition: 1, offset: 0, error_code: null, error: null }],
      },
      {
        key_schema_id: null,
        value_schema_id: null,
        offsets: [{ partition: 1, offset: 1, error_code: null, error: null }],
      },
    ]);
    await kafka.producer().produce(topic, "from-upstash", { partition: 1 });

    await v2("POST", `/consumers/${group}`, {
      body: { name: "b", format: "binary", "auto.offset.reset": "earliest" },
    });
    const base = `/consumers/${group}/instances/b`;
    await v2("POST", `${base}/assignments`, { body: { partitions: [{ topic, partition: 1 }] } });
    type Bin = { key: string | null; value: string; offset: number };
    const got = await collect<Bin>(3, async () => {
      const res = await v2("GET", `${base}/records?timeout=1000`, { accept: V2_BINARY });
      return res.json as Bin[];
    });
    expect(got.map((r) => [r.key, r.value, r.offset])).toEqual([
      [b64("key"), b64("confluent"), 0],
      [null, b64("kafka"), 1],
      [null, b64("from-upstash"), 2],
    ]);
    const mismatch = await v2("GET", `${base}/records`, { accept: V2_JSON });
    expect(mismatch).toEqual({
      status: 406,
      json: { error_code: 40601, message: expect.any(String) },
    });
    expect((await v2("DELETE", base)).status).toBe(204);
  });

  it("answers 401 {error_code, message} for wrong credentials", async () => {
    const res = await v2("POST", `/topics/${unique("auth")}`, {
      body: { records: [{ value: 1 }] },
      contentType: V2_JSON,
      authHeader: `Basic ${Buffer.from("nobody:nothing").toString("base64")}`,
    });
    expect(res).toEqual({ status: 401, json: { error_code: 401, message: expect.any(String) } });
  });

  it("answers bad requests in the proxy's error shape", async () => {
    const topic = unique("bad");
    expect(
      await v2("POST", `/topics/${topic}`, { body: { records: [] }, contentType: V2_JSON }),
    ).toEqual({ status: 422, json: { error_code: 422, message: expect.any(String) } });
    expect(await v2("POST", `/topics/${topic}`, { body: "{nope", contentType: V2_JSON })).toEqual({
      status: 400,
      json: { error_code: 400, message: expect.any(String) },
    });
    expect(
      await v2("POST", `/topics/${topic}`, {
        body: { records: [{ value: "x" }] },
        contentType: "text/plain",
      }),
    ).toEqual({ status: 415, json: { error_code: 415, message: expect.any(String) } });
    expect(await v2("GET", `/topics/${unique("missing")}`, { accept: V2 })).toEqual({
      status: 404,
      json: { error_code: 40401, message: expect.any(String) },
    });
    expect(await v2("POST", `/consumers/${unique("g")}`, { body: { format: "avro" } })).toEqual({
      status: 422,
      json: { error_code: 42204, message: expect.any(String) },
    });
  });
});
