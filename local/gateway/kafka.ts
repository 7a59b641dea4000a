/**
 * Stand-in for Kafka over HTTP, backed by a real redis-server (topics are Redis Streams,
 * kafka-topics.ts): the parts of two protocols that the service, the load tests and the audits use,
 * on one port. See docs/kafka-gateway.md.
 *
 *   Upstash Kafka REST (`@upstash/kafka`)      POST /produce · POST /consume/{group}/{instance} · GET /topics
 *   Kafka REST Proxy v2 (Confluent, Redpanda)  POST /topics/{topic} · GET /topics (Accept: …vnd.kafka…) ·
 *                                              POST /consumers/{group} · POST …/instances/{name}/subscription ·
 *                                              GET …/instances/{name}/records · DELETE …/instances/{name}
 *
 * Both use HTTP Basic auth. Errors use each protocol's shape: Upstash `{ error, status }`, REST v2
 * `{ error_code, message }`. A produced record refused by the broker (a poison record, see
 * faults.ts) gets a per-record error inside the 200 answer; the others are stored.
 */
import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { Redis } from "ioredis";
import { z } from "zod";
import { type Faults, matchesPoison } from "./faults.ts";
import { basicAuthorized } from "./http.ts";
import {
  type Consumer,
  ConsumerGroups,
  type ProduceInput,
  type ProduceResult,
  type StoredRecord,
  TOPIC_NAME,
  TopicStore,
} from "./kafka-topics.ts";

/** Partitions of a topic created by its first produce (env COUPON_KAFKA_PARTITIONS overrides). */
const DEFAULT_PARTITIONS = 3;
const MAX_RECORDS = 500;
const MAX_WAIT_MS = 30_000;
const V2 = "application/vnd.kafka.v2+json";

class ApiError extends Error {
  readonly status: 400 | 401 | 404 | 409 | 415 | 422;
  /** The REST proxy's error code (its 5-digit codes, else the status). */
  readonly code: number;
  constructor(status: ApiError["status"], message: string, code: number = status) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Requests of the REST Proxy v2 protocol; everything else speaks Upstash's. */
const isRestV2 = (c: Context) =>
  /^\/(consumers\/|topics\/)/.test(c.req.path) ||
  (c.req.path === "/topics" && /vnd\.kafka/i.test(c.req.header("Accept") ?? ""));

/** A body parsed with `schema`; malformed JSON or a mismatch is a 400 (Upstash) / 422 (REST v2). */
async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = text.trim() === "" ? undefined : JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `malformed JSON body: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues
    .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
    .join("; ");
  throw new ApiError(isRestV2(c) ? 422 : 400, message, isRestV2(c) ? 42201 : 400);
}

const Message = z.object({
  topic: z.string().regex(TOPIC_NAME, "not a valid topic name"),
  value: z.string(),
  key: z.string().optional(),
  partition: z.number().int().optional(),
});
/** One message or several, as `@upstash/kafka`'s produce and produceMany send them. */
const Messages = z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(Message).min(1));
const ConsumeBody = z.object({
  topic: z.string().optional(),
  topics: z.array(z.string()).min(1).optional(),
  timeout: z.number().int().min(0).optional(),
});
const V2Records = z.object({
  records: z
    .array(
      z.object({
        key: z.unknown().optional(),
        value: z.unknown(),
        partition: z.number().int().optional(),
      }),
    )
    .min(1),
});
const V2Consumer = z.object({
  name: z.string().min(1).optional(),
  format: z.enum(["binary", "json"]).default("binary"),
  "auto.offset.reset": z.enum(["earliest", "latest"]).default("latest"),
  "auto.commit.enable": z.enum(["true", "false"]).default("true"),
});
const V2Subscription = z.object({ topics: z.array(z.string().regex(TOPIC_NAME)).min(1) });

export function createKafkaGateway(opts: {
  redisUrl: string;
  username: string;
  password: string;
  faults: Faults;
}): { fetch: Hono["fetch"]; close(): Promise<void> } {
  const redis = new Redis(opts.redisUrl, {
    maxRetriesPerRequest: 2,
    connectionName: "kafka-gateway",
  });
  redis.on("error", () => {
    // Reconnects on its own; failing requests report the error to their callers.
  });
  const partitions = Number(process.env.COUPON_KAFKA_PARTITIONS);
  const store = new TopicStore(
    redis,
    Number.isInteger(partitions) && partitions > 0 ? partitions : DEFAULT_PARTITIONS,
  );
  const groups = new ConsumerGroups(store);
  const poisoned = (text: string) => matchesPoison(opts.faults, text);

  /** Appends `inputs` in order, grouped by topic; a partition out of range fails the request. */
  async function produce(topics: string[], inputs: ProduceInput[]): Promise<ProduceResult[]> {
    const results: ProduceResult[] = [];
    for (const topic of new Set(topics)) {
      const mine = topics.flatMap((t, i) => (t === topic ? [i] : []));
      const stored = await store
        .produce(
          topic,
          mine.map((i) => inputs[i] as ProduceInput),
          poisoned,
        )
        .catch((err: unknown) => {
          if (err instanceof RangeError) throw new ApiError(400, err.message, 40402);
          throw err;
        });
      mine.forEach((i, j) => {
        results[i] = stored[j] as ProduceResult;
      });
    }
    return results;
  }

  async function instance(c: Context): Promise<Consumer> {
    const consumer = await groups.find(c.req.param("group") ?? "", c.req.param("name") ?? "");
    if (!consumer) throw new ApiError(404, "Consumer instance not found.", 40403);
    return consumer;
  }

  const poll = (c: Context, consumer: Consumer, timeoutMs: number) =>
    groups.serialize(consumer, () =>
      groups.poll(consumer, {
        timeoutMs: Math.min(timeoutMs, MAX_WAIT_MS),
        maxRecords: MAX_RECORDS,
        signal: c.req.raw.signal,
      }),
    );

  const app = new Hono()
    .use(async (c, next) => {
      if (basicAuthorized(c.req.header("Authorization"), opts.username, opts.password))
        return next();
      throw new ApiError(401, "Unauthorized");
    })
    .get("/topics", async (c) => {
      const topics = await store.topics();
      return isRestV2(c)
        ? c.json([...topics.keys()], 200, { "Content-Type": V2 })
        : c.json(Object.fromEntries(topics));
    })

    // ─── Upstash Kafka REST ──────────────────────────────────────────────────────────────────────
    .post("/produce", async (c) => {
      const messages = await body(c, Messages);
      const inputs = messages.map((m) => {
        const key = m.key === undefined ? null : Buffer.from(m.key);
        return {
          key,
          value: Buffer.from(m.value),
          partition: m.partition,
          inspect: [m.key ?? "", m.value],
        };
      });
      const results = await produce(
        messages.map((m) => m.topic),
        inputs,
      );
      // Upstash documents no per-record failure: the metadata with -1 and its error envelope's fields.
      return c.json(
        results.map((r, i) => {
          const topic = messages[i]?.topic;
          return r.ok
            ? { topic, partition: r.partition, offset: r.offset, timestamp: Date.now() }
            : {
                topic,
                partition: r.partition,
                offset: -1,
                timestamp: -1,
                error: r.error,
                status: 400,
              };
        }),
      );
    })
    .post("/consume/:group/:name", async (c) => {
      const { topic, topics = topic ? [topic] : [], timeout = 1000 } = await body(c, ConsumeBody);
      if (topics.length === 0) throw new ApiError(400, "Consume request needs a topic or topics");
      const group = c.req.param("group");
      const name = c.req.param("name");
      const consumer =
        (await groups.find(group, name)) ??
        ((await groups.create(group, name, {
          autoCommit: c.req.header("Kafka-Enable-Auto-Commit") !== "false",
          reset: c.req.header("Kafka-Auto-Offset-Reset") === "earliest" ? "earliest" : "latest",
          format: "binary",
        })) as Consumer);
      consumer.topics = topics;
      const records = await poll(c, consumer, timeout);
      const text = (b: Buffer | null) => b?.toString("utf8") ?? "";
      return c.json(
        records.map((r) => ({ ...r, key: text(r.key), value: text(r.value), headers: [] })),
      );
    })

    // ─── Kafka REST Proxy v2 ─────────────────────────────────────────────────────────────────────
    .post("/topics/:topic", async (c) => {
      const topic = c.req.param("topic");
      const type = /^application\/vnd\.kafka\.(binary|json)\.v2\+json/i.exec(
        c.req.header("Content-Type") ?? "",
      );
      if (!type) throw new ApiError(415, "HTTP 415 Unsupported Media Type");
      if (!TOPIC_NAME.test(topic)) throw new ApiError(422, `Invalid topic name '${topic}'`, 42201);
      const format = type[1]?.toLowerCase() === "json" ? "json" : "binary";
      const { records } = await body(c, V2Records);
      const encode = (data: unknown, what: string): Buffer | null => {
        if (data === undefined || data === null) return null;
        if (format === "json") return Buffer.from(JSON.stringify(data));
        if (typeof data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
          throw new ApiError(422, `${what} must be base64 (binary format)`, 42201);
        }
        return Buffer.from(data, "base64");
      };
      const inputs = records.map((r, i) => {
        const key = encode(r.key, `records.${i}.key`);
        const value = encode(r.value, `records.${i}.value`);
        const inspect = [key, value].flatMap((b) => (b ? [b.toString("utf8")] : []));
        return { key, value, partition: r.partition, inspect };
      });
      const results = await produce(
        records.map(() => topic),
        inputs,
      );
      const offsets = results.map((r) =>
        r.ok
          ? { partition: r.partition, offset: r.offset, error_code: null, error: null }
          : // error_code 1: a non-retriable Kafka exception, as the proxy documents.
            { partition: null, offset: null, error_code: 1, error: r.error },
      );
      return c.json({ key_schema_id: null, value_schema_id: null, offsets }, 200, {
        "Content-Type": V2,
      });
    })
    .post("/consumers/:group", async (c) => {
      const config = await body(
        c,
        V2Consumer.optional().transform((b) => b ?? V2Consumer.parse({})),
      );
      const group = c.req.param("group");
      const name = config.name ?? `rest-consumer-${randomUUID()}`;
      const created = await groups.create(group, name, {
        autoCommit: config["auto.commit.enable"] === "true",
        reset: config["auto.offset.reset"],
        format: config.format,
      });
      if (!created)
        throw new ApiError(409, "Consumer instance with the specified name already exists.", 40902);
      const base = `${new URL(c.req.url).origin}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(name)}`;
      return c.json({ instance_id: name, base_uri: base }, 200, { "Content-Type": V2 });
    })
    .post("/consumers/:group/instances/:name/subscription", async (c) => {
      const consumer = await instance(c);
      consumer.topics = (await body(c, V2Subscription)).topics;
      return c.body(null, 204);
    })
    .get("/consumers/:group/instances/:name/records", async (c) => {
      const consumer = await instance(c);
      const timeout = Number(c.req.query("timeout") ?? 1000);
      const { format } = consumer.config;
      const decode = (b: Buffer | null) =>
        b === null
          ? null
          : format === "binary"
            ? b.toString("base64")
            : JSON.parse(b.toString("utf8"));
      const records = await poll(c, consumer, Number.isFinite(timeout) ? timeout : 1000);
      const out = records.map((r: StoredRecord) => ({
        topic: r.topic,
        key: decode(r.key),
        value: decode(r.value),
        partition: r.partition,
        offset: r.offset,
      }));
      return c.json(out, 200, { "Content-Type": `application/vnd.kafka.${format}.v2+json` });
    })
    .delete("/consumers/:group/instances/:name", async (c) => {
      const consumer = await instance(c);
      await groups.serialize(consumer, () => groups.close(consumer));
      return c.body(null, 204);
    });

  app.notFound((c) => fail(c, new ApiError(404, `Not Found: ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => fail(c, err));

  return {
    fetch: app.fetch,
    async close() {
      await groups.closeAll().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** An error in the protocol's own shape (REST v2 401 also names the Basic realm). */
function fail(c: Context, err: Error): Response {
  const known = err instanceof ApiError ? err : undefined;
  const status = known?.status ?? 500;
  if (!isRestV2(c)) return c.json({ error: err.message, status }, status);
  const headers: Record<string, string> = { "Content-Type": V2 };
  if (status === 401) headers["WWW-Authenticate"] = 'Basic realm="kafka-rest"';
  return c.json(
    { error_code: known?.code ?? (status === 500 ? 50002 : status), message: err.message },
    status,
    headers,
  );
}
