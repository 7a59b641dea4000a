/**
 * The Upstash Kafka REST protocol (what `@upstash/kafka` speaks) over the Redis Streams topic
 * store. See https://upstash.com/docs/kafka/rest/restintro and docs/kafka-gateway.md.
 *
 * Every error answers `{ "error": <message>, "status": <HTTP status> }` with that status.
 */
import type { Faults } from "./faults.ts";
import { matchesPoison } from "./faults.ts";
import { header } from "./http.ts";
import {
  type ConsumerConfig,
  ConsumerError,
  type ConsumerGroups,
  type GatewayRequest,
  type GatewayResponse,
  type OffsetReset,
  type ProduceInput,
  type ProduceResult,
  type StoredRecord,
  type TopicPartition,
  type TopicStore,
} from "./kafka-streams.ts";

export interface UpstashContext {
  store: TopicStore;
  groups: ConsumerGroups;
  faults: Faults;
}

const MAX_RECORDS = 500;
const MAX_WAIT_MS = 30_000;

class UpstashError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const ok = (body: unknown): GatewayResponse => ({ status: 200, body });
const success = (): GatewayResponse => ok({ result: "Success", status: 200 });

export function upstashError(status: number, message: string): GatewayResponse {
  return { status, body: { error: message, status } };
}

export function upstashUnauthorized(): GatewayResponse {
  return upstashError(401, "Unauthorized");
}

export async function handleUpstash(
  ctx: UpstashContext,
  req: GatewayRequest,
): Promise<GatewayResponse> {
  try {
    return await route(ctx, req);
  } catch (err) {
    if (err instanceof UpstashError) return upstashError(err.status, err.message);
    if (err instanceof ConsumerError) {
      const status = err.kind === "not_found" ? 404 : err.kind === "no_offset" ? 400 : 409;
      return upstashError(status, err.message);
    }
    return upstashError(500, err instanceof Error ? err.message : String(err));
  }
}

async function route(ctx: UpstashContext, req: GatewayRequest): Promise<GatewayResponse> {
  const [head, ...rest] = req.path;
  const { method } = req;
  const getOrPost = method === "GET" || method === "POST";
  switch (head) {
    case "produce":
      if (!getOrPost) break;
      if (rest.length === 2) return produceOne(ctx, req, rest[0] as string, rest[1] as string);
      if (rest.length <= 1) return produceBody(ctx, req, rest[0]);
      break;
    case "fetch":
      if (getOrPost && rest.length === 0) return fetchRecords(ctx, req);
      break;
    case "consume":
      if (rest.length === 3 && getOrPost) {
        return consume(ctx, req, rest[0] as string, rest[1] as string, [rest[2] as string]);
      }
      if (rest.length === 2 && getOrPost) {
        return consume(ctx, req, rest[0] as string, rest[1] as string, undefined);
      }
      break;
    case "commit":
      if (rest.length === 2 && getOrPost) {
        return commit(ctx, req, rest[0] as string, rest[1] as string);
      }
      break;
    case "committed":
      if (rest.length === 2 && getOrPost) {
        return committed(ctx, req, rest[0] as string, rest[1] as string);
      }
      break;
    case "delete-consumer":
      if (rest.length === 2 && (method === "POST" || method === "DELETE")) {
        return deleteConsumer(ctx, rest[0] as string, rest[1] as string);
      }
      break;
    case "offsets":
      if (rest.length === 1 && getOrPost) return offsets(ctx, req, rest[0] as string);
      break;
    case "topics":
      if (rest.length === 0 && method === "GET") {
        return ok(Object.fromEntries(await ctx.store.topics()));
      }
      break;
    case "consumers":
      if (rest.length === 0 && method === "GET") return ok(await ctx.groups.list());
      break;
    default:
      return upstashError(404, `Not Found: ${method} /${req.path.join("/")}`);
  }
  return upstashError(405, `Method ${method} is not allowed for /${req.path.join("/")}`);
}

// ─── body parsing ──────────────────────────────────────────────────────────────────────────────

function jsonBody(req: GatewayRequest): unknown {
  const text = req.body.toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UpstashError(
      400,
      `Invalid JSON request body: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A single object or an array of them, as most Upstash endpoints accept. */
function oneOrMany(value: unknown, what: string): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((item, i) => {
    if (!isObject(item)) throw new UpstashError(400, `${what} ${i}: expected a JSON object`);
    return item;
  });
}

function optionalInt(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  throw new UpstashError(400, `${what} must be an integer`);
}

function requiredInt(v: unknown, what: string): number {
  const n = optionalInt(v, what);
  if (n === undefined) throw new UpstashError(400, `${what} is required`);
  return n;
}

function requiredString(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") throw new UpstashError(400, `${what} is required`);
  return v;
}

function topicPartition(item: Record<string, unknown>, what: string): TopicPartition {
  return {
    topic: requiredString(item.topic, `${what}.topic`),
    partition: requiredInt(item.partition, `${what}.partition`),
  };
}

function waitMs(v: unknown, fallback: number): number {
  const n = optionalInt(v, "timeout") ?? fallback;
  return Math.max(0, Math.min(n, MAX_WAIT_MS));
}

// ─── produce ───────────────────────────────────────────────────────────────────────────────────

function produceInput(item: Record<string, unknown>, topic: string, i: number): ProduceInput {
  if (item.value === undefined || item.value === null) {
    throw new UpstashError(400, `message ${i}: value is required`);
  }
  const value = typeof item.value === "string" ? item.value : JSON.stringify(item.value);
  const key =
    item.key === undefined || item.key === null
      ? null
      : typeof item.key === "string"
        ? item.key
        : JSON.stringify(item.key);
  let headers: { key: string; value: string }[] | undefined;
  if (item.headers !== undefined && item.headers !== null) {
    if (!Array.isArray(item.headers)) {
      throw new UpstashError(400, `message ${i}: headers must be an array of {key, value}`);
    }
    headers = item.headers.map((h, j) => {
      if (!isObject(h) || typeof h.key !== "string" || typeof h.value !== "string") {
        throw new UpstashError(
          400,
          `message ${i}: header ${j} must be {key: string, value: string}`,
        );
      }
      return { key: h.key, value: h.value };
    });
  }
  return {
    topic,
    partition: optionalInt(item.partition, `message ${i}: partition`),
    key: key === null ? null : Buffer.from(key, "utf8"),
    value: Buffer.from(value, "utf8"),
    timestamp: optionalInt(item.timestamp, `message ${i}: timestamp`),
    headers,
    inspect: key === null ? [value] : [key, value],
  };
}

/**
 * The produce metadata. The real API documents no per-record failure; a record refused by the
 * broker (here: a poison record) gets the same fields with -1 sentinels plus Upstash's error
 * envelope fields `error` and `status`, inside the HTTP 200 answer.
 */
function metadata(result: ProduceResult): Record<string, unknown> {
  if (result.ok) {
    return {
      topic: result.topic,
      partition: result.partition,
      offset: result.offset,
      timestamp: result.timestamp,
    };
  }
  return {
    topic: result.topic,
    partition: result.partition ?? -1,
    offset: -1,
    timestamp: -1,
    error: result.error,
    status: 400,
  };
}

async function produce(ctx: UpstashContext, inputs: ProduceInput[]): Promise<ProduceResult[]> {
  const results = await ctx.store.produce(inputs, (text) => matchesPoison(ctx.faults, text));
  // Requests Kafka would refuse outright (bad topic name, partition out of range) fail the whole
  // call; only broker-side record rejections stay per record.
  const invalid = results.find(
    (r) => !r.ok && (r.error.startsWith("INVALID_TOPIC") || r.error.startsWith("UNKNOWN_TOPIC")),
  );
  if (invalid && !invalid.ok) throw new UpstashError(400, invalid.error);
  return results;
}

async function produceOne(
  ctx: UpstashContext,
  req: GatewayRequest,
  topic: string,
  message: string,
): Promise<GatewayResponse> {
  const key = req.query.get("key");
  const input = produceInput({ value: message, key: key ?? undefined }, topic, 0);
  const [result] = await produce(ctx, [input]);
  return ok(metadata(result as ProduceResult));
}

async function produceBody(
  ctx: UpstashContext,
  req: GatewayRequest,
  pathTopic: string | undefined,
): Promise<GatewayResponse> {
  const items = oneOrMany(jsonBody(req), "message");
  if (items.length === 0) throw new UpstashError(400, "No messages to produce");
  const inputs = items.map((item, i) => {
    const topic = pathTopic ?? requiredString(item.topic, `message ${i}: topic`);
    return produceInput(item, topic, i);
  });
  const results = await produce(ctx, inputs);
  return ok(results.map(metadata));
}

// ─── fetch / consume ───────────────────────────────────────────────────────────────────────────

function message(r: StoredRecord): Record<string, unknown> {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? "" : r.key.toString("utf8"),
    value: r.value === null ? "" : r.value.toString("utf8"),
    headers: r.headers,
  };
}

async function fetchRecords(ctx: UpstashContext, req: GatewayRequest): Promise<GatewayResponse> {
  const body = jsonBody(req);
  if (!isObject(body)) throw new UpstashError(400, "Fetch request body must be a JSON object");
  const from: (TopicPartition & { offset: number })[] = [];
  if (body.topic !== undefined) {
    from.push({
      ...topicPartition(body, "fetch"),
      offset: requiredInt(body.offset, "fetch.offset"),
    });
  }
  for (const [i, item] of oneOrMany(
    body.topicPartitionOffsets,
    "topicPartitionOffsets",
  ).entries()) {
    from.push({
      ...topicPartition(item, `topicPartitionOffsets[${i}]`),
      offset: requiredInt(item.offset, `topicPartitionOffsets[${i}].offset`),
    });
  }
  if (from.length === 0) {
    throw new UpstashError(
      400,
      "Fetch request needs topic/partition/offset or topicPartitionOffsets",
    );
  }
  for (const tp of from) {
    const count = await ctx.store.partitions(tp.topic);
    if (count === undefined) throw new UpstashError(400, `Topic not found: ${tp.topic}`);
    if (tp.partition < 0 || tp.partition >= count) {
      throw new UpstashError(400, `Partition not found: ${tp.topic}-${tp.partition}`);
    }
  }
  const records = await ctx.store.fetch(from, {
    timeoutMs: waitMs(body.timeout, 1000),
    maxRecords: MAX_RECORDS,
    signal: req.signal,
  });
  return ok(records.map(message));
}

function consumerConfig(req: GatewayRequest): ConsumerConfig {
  const autoCommitHeader = header(req, "kafka-enable-auto-commit");
  const interval = header(req, "kafka-auto-commit-interval");
  const reset = header(req, "kafka-auto-offset-reset");
  const session = header(req, "kafka-session-timeout-ms");
  if (autoCommitHeader !== undefined && !["true", "false"].includes(autoCommitHeader)) {
    throw new UpstashError(400, "Kafka-Enable-Auto-Commit must be true or false");
  }
  if (reset !== undefined && !["earliest", "latest", "none"].includes(reset)) {
    throw new UpstashError(400, "Kafka-Auto-Offset-Reset must be earliest, latest or none");
  }
  return {
    autoCommit: autoCommitHeader !== "false",
    autoCommitIntervalMs: optionalInt(interval, "Kafka-Auto-Commit-Interval") ?? 5000,
    autoOffsetReset: (reset as OffsetReset | undefined) ?? "latest",
    idleTimeoutMs: optionalInt(session, "Kafka-Session-Timeout-Ms") ?? 120_000,
    format: "upstash",
  };
}

async function consume(
  ctx: UpstashContext,
  req: GatewayRequest,
  group: string,
  instance: string,
  pathTopics: string[] | undefined,
): Promise<GatewayResponse> {
  let topics = pathTopics;
  let timeout: unknown = req.query.get("timeout") ?? undefined;
  if (topics === undefined) {
    const body = jsonBody(req);
    if (!isObject(body)) {
      throw new UpstashError(400, "Consume request body must be a JSON object {topic|topics}");
    }
    if (Array.isArray(body.topics)) {
      topics = body.topics.map((t, i) => requiredString(t, `topics[${i}]`));
    } else if (body.topic !== undefined) {
      topics = [requiredString(body.topic, "topic")];
    }
    if (body.timeout !== undefined) timeout = body.timeout;
  }
  if (!topics || topics.length === 0) {
    throw new UpstashError(400, "Consume request needs a topic or topics");
  }
  const config = consumerConfig(req);
  const inst = await ctx.groups.findOrCreate(group, instance, config);
  const records = await ctx.groups.serialize(inst, async () => {
    await ctx.groups.subscribe(inst, topics);
    return ctx.groups.poll(inst, {
      timeoutMs: waitMs(timeout, 1000),
      maxRecords: MAX_RECORDS,
      signal: req.signal,
    });
  });
  return ok(records.map(message));
}

const DEFAULT_CONFIG: ConsumerConfig = {
  autoCommit: true,
  autoCommitIntervalMs: 5000,
  autoOffsetReset: "latest",
  idleTimeoutMs: 120_000,
  format: "upstash",
};

async function commit(
  ctx: UpstashContext,
  req: GatewayRequest,
  group: string,
  instance: string,
): Promise<GatewayResponse> {
  const offsets = oneOrMany(jsonBody(req), "offset").map((item, i) => ({
    ...topicPartition(item, `offset[${i}]`),
    offset: requiredInt(item.offset, `offset[${i}].offset`),
  }));
  const inst = await ctx.groups.findOrCreate(group, instance, DEFAULT_CONFIG);
  await ctx.groups.serialize(inst, () => ctx.groups.commit(inst, offsets));
  return success();
}

async function committed(
  ctx: UpstashContext,
  req: GatewayRequest,
  group: string,
  instance: string,
): Promise<GatewayResponse> {
  const tps = oneOrMany(jsonBody(req), "topicPartition").map((item, i) =>
    topicPartition(item, `topicPartition[${i}]`),
  );
  await ctx.groups.findOrCreate(group, instance, DEFAULT_CONFIG);
  const out = [];
  for (const tp of tps) {
    out.push({ ...tp, offset: (await ctx.store.committed(group, tp)) ?? -1 });
  }
  return ok(out);
}

async function deleteConsumer(
  ctx: UpstashContext,
  group: string,
  instance: string,
): Promise<GatewayResponse> {
  const inst = await ctx.groups.find(group, instance);
  if (!inst) {
    return upstashError(404, `Consumer instance not found: group ${group}, instance ${instance}`);
  }
  await ctx.groups.serialize(inst, () => ctx.groups.remove(inst));
  return success();
}

async function offsets(
  ctx: UpstashContext,
  req: GatewayRequest,
  when: string,
): Promise<GatewayResponse> {
  const tps = oneOrMany(jsonBody(req), "topicPartition").map((item, i) =>
    topicPartition(item, `topicPartition[${i}]`),
  );
  if (when !== "earliest" && when !== "latest" && !/^\d+$/.test(when)) {
    throw new UpstashError(400, "Timestamp must be a number (ms), earliest or latest");
  }
  const out = [];
  for (const tp of tps) {
    const count = await ctx.store.partitions(tp.topic);
    if (count === undefined) throw new UpstashError(400, `Topic not found: ${tp.topic}`);
    if (tp.partition < 0 || tp.partition >= count) {
      throw new UpstashError(400, `Partition not found: ${tp.topic}-${tp.partition}`);
    }
    const offset =
      when === "earliest"
        ? await ctx.store.beginningOffset(tp)
        : when === "latest"
          ? await ctx.store.endOffset(tp)
          : await ctx.store.offsetForTimestamp(tp, Number(when));
    out.push({ ...tp, offset });
  }
  return ok(out);
}
