/**
 * Conformance of the Kafka-over-HTTP stand-in: the Upstash Kafka REST protocol with the official
 * client, `@upstash/kafka` (only URL and credentials differ from production), and the Kafka REST
 * Proxy v2 produce and consumer round trip the audits use, with plain `fetch`. Keyed records land
 * where Kafka's own partitioner puts them, checked with the hash values of Kafka's tests. Every
 * test uses topics and consumer groups of its own (`conf-<random>-…`).
 */
import { randomBytes } from "node:crypto";
import { Kafka } from "@upstash/kafka";
import { describe, expect, it } from "vitest";
import { controlFetch } from "../../local/gateway/control-client.ts";
import type { Faults } from "../../local/gateway/faults.ts";
import { murmur2, partitionForKey } from "../../local/gateway/kafka-topics.ts";
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
const b64 = (s: string) => Buffer.from(s).toString("base64");

/**
 * Kafka's own murmur2 test vectors (clients/src/test/java/org/apache/kafka/common/utils/
 * UtilsTest.java, testMurmur2). The broker's client puts a keyed record on partition
 * `toPositive(murmur2(key)) % partitions` (BuiltInPartitioner.partitionForKey).
 */
const KAFKA_MURMUR2: [string, number][] = [
  ["21", -973932308],
  ["foobar", -790332482],
  ["a-little-bit-long-string", -985981536],
  ["a-little-bit-longer-string", -1486304829],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
  ["abc", 479470107],
];
const kafkaPartition = (hash: number, partitions: number) => (hash & 0x7fffffff) % partitions;

async function v2(
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; accept?: string; authHeader?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { authorization: opts.authHeader ?? auth };
  if (opts.body !== undefined) headers["content-type"] = opts.contentType ?? V2;
  if (opts.accept) headers.accept = opts.accept;
  const res = await fetch(`${url}${path}`, { method, headers, body: requestBody(opts.body) });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
}

type V2Record = { topic: string; key: unknown; value: unknown; partition: number; offset: number };

/** A REST v2 consumer of `topic` in a new group, from the earliest offset. */
async function v2Consumer(topic: string, format: "binary" | "json") {
  const group = unique("g");
  const created = await v2("POST", `/consumers/${group}`, {
    body: { name: "reader", format, "auto.offset.reset": "earliest" },
  });
  expect(created.status).toBe(200);
  const { base_uri } = created.json as { instance_id: string; base_uri: string };
  expect(base_uri).toBe(`${url}/consumers/${group}/instances/reader`);
  const base = new URL(base_uri).pathname;
  expect((await v2("POST", `${base}/subscription`, { body: { topics: [topic] } })).status).toBe(
    204,
  );
  const accept = format === "json" ? V2_JSON : V2_BINARY;
  return {
    group,
    base,
    poll: async () => {
      const res = await v2("GET", `${base}/records?timeout=500`, { accept });
      expect(res.status).toBe(200);
      return res.json as V2Record[];
    },
  };
}

/** Adds a poison string to the Kafka API's faults for the duration of `fn`. */
async function withPoison<T>(poison: string, fn: () => Promise<T>): Promise<T> {
  const set = async (change: (list: string[]) => string[]) => {
    const health = await controlFetch(stack.gatewayControl, "/health");
    const { apis } = (await health.json()) as { apis: { kafka: { faults: Faults } } };
    await controlFetch(stack.gatewayControl, "/faults/kafka", {
      method: "POST",
      body: JSON.stringify({ rejectMatching: change(apis.kafka.faults.rejectMatching) }),
    });
  };
  await set((list) => [...list, poison]);
  try {
    return await fn();
  } finally {
    await set((list) => list.filter((s) => s !== poison));
  }
}

describe("Kafka's key hash", () => {
  it("murmur2 gives Kafka's own test vectors", () => {
    for (const [key, hash] of KAFKA_MURMUR2) expect(murmur2(Buffer.from(key)), key).toBe(hash);
    for (const [key, hash] of KAFKA_MURMUR2) {
      expect(partitionForKey(Buffer.from(key), 7)).toBe(kafkaPartition(hash, 7));
    }
  });

  it("both protocols put a keyed record on the partition Kafka's partitioner picks", async () => {
    const upstashTopic = unique("hash-upstash");
    const upstash = await kafka
      .producer()
      .produceMany(KAFKA_MURMUR2.map(([key]) => ({ topic: upstashTopic, key, value: key })));
    const v2Topic = unique("hash-v2");
    const produced = await v2("POST", `/topics/${v2Topic}`, {
      body: { records: KAFKA_MURMUR2.map(([key]) => ({ key: b64(key), value: b64(key) })) },
      contentType: V2_BINARY,
    });
    const offsets = (produced.json as { offsets: { partition: number }[] }).offsets;
    KAFKA_MURMUR2.forEach(([key, hash], i) => {
      expect(upstash[i]?.partition, `Upstash ${key}`).toBe(kafkaPartition(hash, 3));
      expect(offsets[i]?.partition, `REST v2 ${key}`).toBe(kafkaPartition(hash, 3));
    });
  });
});

describe("@upstash/kafka", () => {
  it("produceMany answers one metadata per message; produce the first; topics lists them", async () => {
    const topic = unique("produce");
    const res = await kafka.producer().produceMany([
      { topic, value: "a", key: "coupon-1" },
      { topic, value: { n: 2 }, key: "coupon-1" },
      { topic, value: "d", partition: 2 },
    ]);
    expect(res).toHaveLength(3);
    for (const r of res) {
      expect(r).toMatchObject({ topic, timestamp: expect.any(Number) });
      expect(r.partition).toBeGreaterThanOrEqual(0);
    }
    expect(res[1]?.partition).toBe(res[0]?.partition);
    expect(res[1]?.offset).toBe((res[0]?.offset ?? -2) + 1);
    expect(res[2]?.partition).toBe(2);
    const single = await kafka.producer().produce(topic, "e", { partition: 2 });
    expect(single).toMatchObject({ topic, partition: 2, offset: (res[2]?.offset ?? -2) + 1 });
    expect((await kafka.admin().topics())[topic]).toBe(3);
  });

  it("consumes in a group from the earliest offset, then only what is new; commits for the group", async () => {
    const topic = unique("group");
    const group = unique("g");
    const consume =
      (instanceId: string, consumerGroupId = group) =>
      () =>
        kafka.consumer().consume({
          consumerGroupId,
          instanceId,
          topics: [topic],
          autoOffsetReset: "earliest",
          timeout: 500,
        });
    const first = ["m0", "m1", "m2", "m3"];
    await kafka.producer().produceMany(first.map((value) => ({ topic, value, key: value })));
    const got = await consume("i1")();
    expect(got.map((m) => [m.key, m.value]).sort()).toEqual(first.map((v) => [v, v]));
    expect(await consume("i1")()).toEqual([]);
    await kafka.producer().produceMany([{ topic, value: "m4" }]);
    expect((await consume("i1")()).map((m) => m.value)).toEqual(["m4"]);
    // Another group has offsets of its own: everything again.
    expect(await consume("i1", unique("other"))()).toHaveLength(5);
  });

  it("a poison record gets Kafka's INVALID_RECORD in Upstash's error fields; the others are stored", async () => {
    const topic = unique("poison");
    const poison = `poison-${run}-${n}`;
    const res = await withPoison(poison, () =>
      kafka.producer().produceMany([
        { topic, value: "fine", key: "k1" },
        { topic, value: `a ${poison} value`, key: "k2" },
      ]),
    );
    expect(res[0]).toMatchObject({ topic, offset: expect.any(Number) });
    expect(res[1]).toMatchObject({
      topic,
      offset: -1,
      error: expect.stringMatching(/^INVALID_RECORD/),
      status: 400,
    });
  });

  it("answers 401 and 400 in Upstash's shape {error, status}", async () => {
    const res = await fetch(`${url}/topics`, {
      headers: { authorization: `Basic ${Buffer.from(`${username}:wrong`).toString("base64")}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.any(String), status: 401 });
    const post = (body: string) =>
      fetch(`${url}/produce`, { method: "POST", headers: { authorization: auth }, body });
    const noValue = await post(JSON.stringify({ topic: unique("bad") }));
    expect(noValue.status).toBe(400);
    expect(await noValue.json()).toEqual({ error: expect.stringMatching(/value/), status: 400 });
    for (const body of ["{nope", JSON.stringify({ topic: "bad topic!", value: "x" })]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.any(String), status: 400 });
    }
  });
});

describe("Kafka REST Proxy v2", () => {
  it("produces JSON records and consumes them in a group until the consumer is deleted", async () => {
    const topic = unique("v2");
    const records = [
      { key: "coupon-1", value: { claim: 1, user: "ann" } },
      { key: "coupon-1", value: { claim: 2, user: "bob" } },
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
      offsets: { partition: number; offset: number; error_code: null; error: null }[];
    };
    expect(body.key_schema_id).toBeNull();
    expect(body.offsets).toHaveLength(3);
    for (const o of body.offsets) expect(o).toMatchObject({ error_code: null, error: null });
    expect(body.offsets[1]?.partition).toBe(body.offsets[0]?.partition);
    const listed = await v2("GET", "/topics", { accept: V2 });
    expect(listed.json).toEqual(expect.arrayContaining([topic]));

    const { base, poll } = await v2Consumer(topic, "json");
    const got = await poll();
    expect(got.map((r) => [r.key, r.value]).sort()).toEqual(
      [
        [null, 53.5],
        ["coupon-1", { claim: 1, user: "ann" }],
        ["coupon-1", { claim: 2, user: "bob" }],
      ].sort(),
    );
    expect(got.every((r) => r.topic === topic)).toBe(true);
    expect(await poll()).toEqual([]);
    expect((await v2("DELETE", base)).status).toBe(204);
    expect(await v2("GET", `${base}/records`, { accept: V2_JSON })).toEqual({
      status: 404,
      json: { error_code: 40403, message: expect.any(String) },
    });
  });

  it("binary records, Upstash's records read back, a poison record refused with error_code 1", async () => {
    const topic = unique("bin");
    const poison = `poison-${run}-${n}`;
    const produced = await withPoison(poison, () =>
      v2("POST", `/topics/${topic}`, {
        body: {
          records: [
            { key: b64("key"), value: b64("confluent"), partition: 1 },
            { value: b64(`a ${poison}`), partition: 1 },
          ],
        },
        contentType: V2_BINARY,
      }),
    );
    expect(produced.json).toEqual({
      key_schema_id: null,
      value_schema_id: null,
      offsets: [
        { partition: 1, offset: 0, error_code: null, error: null },
        {
          partition: null,
          offset: null,
          error_code: 1,
          error: expect.stringMatching(/^INVALID_RECORD/),
        },
      ],
    });
    await kafka.producer().produce(topic, "from-upstash", { partition: 1 });
    const { base, poll } = await v2Consumer(topic, "binary");
    expect((await poll()).map((r) => [r.key, r.value, r.partition, r.offset])).toEqual([
      [b64("key"), b64("confluent"), 1, 0],
      [null, b64("from-upstash"), 1, 1],
    ]);
    expect((await v2("DELETE", base)).status).toBe(204);
  });

  it("answers errors in the proxy's shape {error_code, message}", async () => {
    const topic = unique("bad");
    const wrong = `Basic ${Buffer.from("nobody:nothing").toString("base64")}`;
    const cases: [Promise<{ status: number; json: unknown }>, number, number][] = [
      [v2("POST", `/topics/${topic}`, { body: { records: [] }, contentType: V2_JSON }), 422, 42201],
      [v2("POST", `/topics/${topic}`, { body: "{nope", contentType: V2_JSON }), 400, 400],
      [
        v2("POST", `/topics/${topic}`, {
          body: { records: [{ value: 1 }] },
          contentType: "text/plain",
        }),
        415,
        415,
      ],
      [
        v2("POST", `/topics/${topic}`, {
          body: { records: [{ value: 1 }] },
          contentType: V2_JSON,
          authHeader: wrong,
        }),
        401,
        401,
      ],
      [v2("POST", `/consumers/${unique("g")}`, { body: { format: "avro" } }), 422, 42201],
      [v2("GET", `/consumers/${unique("g")}/instances/none/records`), 404, 40403],
    ];
    for (const [answer, status, code] of cases) {
      expect(await answer).toEqual({
        status,
        json: { error_code: code, message: expect.any(String) },
      });
    }
    const group = unique("g");
    await v2("POST", `/consumers/${group}`, { body: { name: "twice" } });
    expect(await v2("POST", `/consumers/${group}`, { body: { name: "twice" } })).toEqual({
      status: 409,
      json: { error_code: 40902, message: expect.any(String) },
    });
    await v2("DELETE", `/consumers/${group}/instances/twice`);
  });
});
