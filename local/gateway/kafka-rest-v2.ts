/**
 * The Kafka REST Proxy API v2 produce/consume protocol (what Confluent REST Proxy, Redpanda's
 * HTTP proxy and Karapace serve) over the Redis Streams topic store. Reference:
 * https://docs.confluent.io/platform/current/kafka-rest/api.html (API v2). See
 * docs/kafka-gateway.md.
 *
 * Errors answer `{ "error_code": <code>, "message": <text> }` with Content-Type
 * `application/vnd.kafka.v2+json`; `error_code` is the HTTP status or the proxy's 5-digit code
 * (40401 topic not found, 40402 partition not found, 40403 consumer instance not found,
 * 40601 format mismatch, 40902 instance exists, 40903 subscription conflict, 42204 invalid
 * consumer configuration, 50002 Kafka error).
 */
import { randomUUID } from "node:crypto";
import type { Faults } from "./faults.ts";
import { matchesPoison } from "./faults.ts";
import { header } from "./http.ts";
import {
  type ConsumerConfig,
  ConsumerError,
  type ConsumerGroups,
  type ConsumerInstance,
  type GatewayRequest,
  type GatewayResponse,
  type ProduceInput,
  type StoredRecord,
  type TopicPartition,
  type TopicStore,
  validTopicName,
} from "./kafka-streams.ts";

export interface RestV2Context {
  store: TopicStore;
  groups: ConsumerGroups;
  faults: Faults;
}

const V2 = "application/vnd.kafka.v2+json";
const MAX_RECORDS = 500;
const MAX_WAIT_MS = 30_000;
/** kafka-rest's consumer.request.timeout.ms default. */
const DEFAULT_RECORDS_TIMEOUT_MS = 1000;
/** kafka-rest's consumer.instance.timeout.ms default. */
const INSTANCE_TIMEOUT_MS = 300_000;
const FORMATS = new Set(["binary", "json"]);
const SCHEMA_FORMATS = new Set(["avro", "jsonschema", "protobuf"]);

class RestError extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function restV2Error(status: number, code: number, message: string): GatewayResponse {
  return { status, contentType: V2, body: { error_code: code, message } };
}

export function restV2Unauthorized(): GatewayResponse {
  return {
    ...restV2Error(401, 401, "Unauthorized"),
    headers: { "www-authenticate": 'Basic realm="kafka-rest"' },
  };
}

const ok = (body: unknown, contentType = V2): GatewayResponse => ({
  status: 200,
  body,
  contentType,
});
const noContent = (): GatewayResponse => ({ status: 204 });
const topicNotFound = () => new RestError(404, 40401, "Topic not found.");
const partitionNotFound = () => new RestError(404, 40402, "Partition not found.");
const instanceNotFound = () => new RestError(404, 40403, "Consumer instance not found.");

export async function handleRestV2(
  ctx: RestV2Context,
  req: GatewayRequest,
): Promise<GatewayResponse> {
  try {
    return await route(ctx, req);
  } catch (err) {
    if (err instanceof RestError) return restV2Error(err.status, err.code, err.message);
    if (err instanceof ConsumerError) {
      switch (err.kind) {
        case "not_found":
          return restV2Error(404, 40403, err.message);
        case "exists":
          return restV2Error(409, 40902, err.message);
        case "conflict":
          return restV2Error(409, 40903, err.message);
        default:
          return restV2Error(500, 50002, err.message);
      }
    }
    return restV2Error(500, 50002, err instanceof Error ? err.message : String(err));
  }
}

async function route(ctx: RestV2Context, req: GatewayRequest): Promise<GatewayResponse> {
  const [head, ...rest] = req.path;
  const { method } = req;
  if (head === "topics") {
    if (rest.length === 0 && method === "GET") return ok([...(await ctx.store.topics()).keys()]);
    const topic = rest[0] as string;
    if (rest.length === 1) {
      if (method === "GET") return topicMetadata(ctx, topic);
      if (method === "POST") return produce(ctx, req, topic, undefined);
    }
    if (rest[1] === "partitions") {
      if (rest.length === 2 && method === "GET") return partitionsMetadata(ctx, topic);
      const partition = parsePartition(rest[2]);
      if (rest.length === 3 && method === "GET") {
        await requirePartition(ctx, topic, partition);
        return ok(partitionMetadata(partition));
      }
      if (rest.length === 3 && method === "POST") return produce(ctx, req, topic, partition);
      if (rest.length === 4 && rest[3] === "offsets" && method === "GET") {
        await requirePartition(ctx, topic, partition);
        const tp = { topic, partition };
        return ok({
          beginning_offset: await ctx.store.beginningOffset(tp),
          end_offset: await ctx.store.endOffset(tp),
        });
      }
    }
  } else if (head === "brokers" && rest.length === 0 && method === "GET") {
    return ok({ brokers: [0] });
  } else if (head === "consumers" && rest.length >= 1) {
    const group = rest[0] as string;
    if (rest.length === 1 && method === "POST") return createConsumer(ctx, req, group);
    if (rest[1] === "instances" && rest.length >= 3) {
      return instanceRoute(ctx, req, group, rest[2] as string, rest.slice(3));
    }
  }
  return restV2Error(404, 404, "HTTP 404 Not Found");
}

async function instanceRoute(
  ctx: RestV2Context,
  req: GatewayRequest,
  group: string,
  name: string,
  sub: string[],
): Promise<GatewayResponse> {
  const { method } = req;
  const inst = await ctx.groups.find(group, name);
  const path = sub.join("/");
  const known = [
    "",
    "offsets",
    "subscription",
    "assignments",
    "positions",
    "positions/beginning",
    "positions/end",
    "records",
  ];
  if (!known.includes(path)) return restV2Error(404, 404, "HTTP 404 Not Found");
  if (!inst) throw instanceNotFound();
  const run = <T>(fn: () => Promise<T>) => ctx.groups.serialize(inst, fn);
  switch (`${method} ${path}`) {
    case "DELETE ":
      await run(() => ctx.groups.remove(inst));
      return noContent();
    case "POST offsets": {
      const body = objectBody(req, true);
      const offsets =
        body.offsets === undefined ? [] : list(body.offsets, "offsets").map(partitionOffset);
      await run(() => ctx.groups.commit(inst, offsets));
      return noContent();
    }
    case "GET offsets": {
      const body = objectBody(req, true);
      const tps = list(body.partitions ?? [], "partitions").map(topicPartition);
      const out = [];
      for (const tp of tps) {
        const offset = await ctx.store.committed(group, tp);
        if (offset !== undefined) out.push({ ...tp, offset, metadata: "" });
      }
      return ok({ offsets: out });
    }
    case "POST subscription": {
      const body = objectBody(req, false);
      const hasTopics = body.topics !== undefined;
      const hasPattern = body.topic_pattern !== undefined;
      if (hasTopics === hasPattern) {
        throw new RestError(
          409,
          40903,
          "Subscription to topics, partitions and pattern are mutually exclusive.",
        );
      }
      if (hasPattern) {
        if (typeof body.topic_pattern !== "string") {
          throw new RestError(422, 422, "topic_pattern must be a string");
        }
        let pattern: RegExp;
        try {
          pattern = new RegExp(body.topic_pattern);
        } catch (err) {
          throw new RestError(422, 422, `invalid topic_pattern: ${(err as Error).message}`);
        }
        await run(() => ctx.groups.subscribe(inst, [], pattern));
      } else {
        const topics = list(body.topics, "topics").map((t, i) => {
          if (typeof t !== "string" || !validTopicName(t)) {
            throw new RestError(422, 422, `topics[${i}] must be a valid topic name`);
          }
          return t;
        });
        if (topics.length === 0) throw new RestError(422, 422, "topics may not be empty");
        await run(() => ctx.groups.subscribe(inst, topics));
      }
      return noContent();
    }
    case "GET subscription":
      return ok({ topics: await ctx.groups.subscribedTopics(inst) });
    case "DELETE subscription":
      await run(() => ctx.groups.unsubscribe(inst));
      return noContent();
    case "POST assignments": {
      const body = objectBody(req, false);
      const tps = list(body.partitions, "partitions").map(topicPartition);
      await run(() => ctx.groups.assign(inst, tps));
      return noContent();
    }
    case "GET assignments":
      return ok({ partitions: inst.manual ?? [] });
    case "POST positions": {
      const body = objectBody(req, false);
      const offsets = list(body.offsets, "offsets").map(partitionOffset);
      for (const o of offsets) ctx.groups.seek(inst, o, o.offset);
      return noContent();
    }
    case "POST positions/beginning":
    case "POST positions/end": {
      const body = objectBody(req, false);
      const tps = list(body.partitions, "partitions").map(topicPartition);
      await run(async () => {
        for (const tp of tps) {
          const offset = path.endsWith("beginning")
            ? await ctx.store.beginningOffset(tp)
            : await ctx.store.endOffset(tp);
          ctx.groups.seek(inst, tp, offset);
        }
      });
      return noContent();
    }
    case "GET records":
      return records(ctx, req, inst);
    default:
      return restV2Error(405, 405, "HTTP 405 Method Not Allowed");
  }
}

// ─── bodies ────────────────────────────────────────────────────────────────────────────────────

function objectBody(req: GatewayRequest, emptyOk: boolean): Record<string, unknown> {
  const text = req.body.toString("utf8").trim();
  if (text === "") {
    if (emptyOk) return {};
    throw new RestError(422, 422, "Request body is empty");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RestError(400, 400, `Unexpected character in JSON body: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RestError(422, 422, "Request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new RestError(422, 422, `${what} must be an array`);
  return value;
}

function topicPartition(item: unknown, i: number): TopicPartition {
  if (typeof item !== "object" || item === null) {
    throw new RestError(422, 422, `partitions[${i}] must be an object {topic, partition}`);
  }
  const { topic, partition } = item as Record<string, unknown>;
  if (typeof topic !== "string" || !Number.isInteger(partition)) {
    throw new RestError(422, 422, `partitions[${i}] needs a topic (string) and partition (int)`);
  }
  return { topic, partition: partition as number };
}

function partitionOffset(item: unknown, i: number): TopicPartition & { offset: number } {
  const tp = topicPartition(item, i);
  const { offset } = item as Record<string, unknown>;
  if (!Number.isInteger(offset) || (offset as number) < 0) {
    throw new RestError(422, 422, `offsets[${i}].offset must be a non-negative integer`);
  }
  return { ...tp, offset: offset as number };
}

function parsePartition(segment: string | undefined): number {
  if (segment === undefined || !/^\d+$/.test(segment)) throw partitionNotFound();
  return Number(segment);
}

// ─── metadata ──────────────────────────────────────────────────────────────────────────────────

function partitionMetadata(partition: number) {
  return { partition, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] };
}

async function requirePartition(ctx: RestV2Context, topic: string, partition: number) {
  const count = await ctx.store.partitions(topic);
  if (count === undefined) throw topicNotFound();
  if (partition >= count) throw partitionNotFound();
}

async function topicMetadata(ctx: RestV2Context, topic: string): Promise<GatewayResponse> {
  const count = await ctx.store.partitions(topic);
  if (count === undefined) throw topicNotFound();
  return ok({
    name: topic,
    configs: {},
    partitions: Array.from({ length: count }, (_, p) => partitionMetadata(p)),
  });
}

async function partitionsMetadata(ctx: RestV2Context, topic: string): Promise<GatewayResponse> {
  const count = await ctx.store.partitions(topic);
  if (count === undefined) throw topicNotFound();
  return ok(Array.from({ length: count }, (_, p) => partitionMetadata(p)));
}

// ─── produce ───────────────────────────────────────────────────────────────────────────────────

/** The embedded format named by a Content-Type / Accept value, or undefined for other types. */
function embeddedFormat(mediaType: string): string | undefined {
  const type = mediaType.split(";")[0]?.trim().toLowerCase() ?? "";
  const match = /^application\/vnd\.kafka(?:\.([a-z]+))?(?:\.v[12])?\+json$/.exec(type);
  if (match) return match[1] ?? "binary";
  if (type === "application/json" || type === "application/octet-stream") return "binary";
  return undefined;
}

function encodeEmbedded(value: unknown, format: string, what: string): Buffer | null {
  if (value === undefined || value === null) return null;
  if (format === "json") return Buffer.from(JSON.stringify(value), "utf8");
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw new RestError(422, 422, `${what} must be a base64-encoded string (binary format)`);
  }
  return Buffer.from(value, "base64");
}

async function produce(
  ctx: RestV2Context,
  req: GatewayRequest,
  topic: string,
  pathPartition: number | undefined,
): Promise<GatewayResponse> {
  const contentType = header(req, "content-type");
  const format = contentType ? embeddedFormat(contentType) : undefined;
  if (format === undefined) {
    throw new RestError(415, 415, "HTTP 415 Unsupported Media Type");
  }
  if (SCHEMA_FORMATS.has(format)) {
    throw new RestError(
      422,
      42205,
      `The ${format} embedded format needs a Schema Registry, which the local gateway does not provide.`,
    );
  }
  if (!FORMATS.has(format)) throw new RestError(415, 415, "HTTP 415 Unsupported Media Type");
  if (!validTopicName(topic)) throw new RestError(422, 422, `Invalid topic name '${topic}'`);
  const body = objectBody(req, false);
  if (!Array.isArray(body.records) || body.records.length === 0) {
    throw new RestError(422, 422, "records may not be empty");
  }
  if (pathPartition !== undefined) await requirePartition(ctx, topic, pathPartition);
  const inputs: ProduceInput[] = body.records.map((record: unknown, i: number) => {
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw new RestError(422, 422, `records[${i}] must be an object`);
    }
    const r = record as Record<string, unknown>;
    if (r.partition !== undefined && r.partition !== null && !Number.isInteger(r.partition)) {
      throw new RestError(422, 422, `records[${i}].partition must be an integer`);
    }
    const key = encodeEmbedded(r.key, format, `records[${i}].key`);
    const value = encodeEmbedded(r.value, format, `records[${i}].value`);
    return {
      topic,
      partition: pathPartition ?? (r.partition as number | undefined | null) ?? undefined,
      key,
      value,
      inspect: [key, value].flatMap((b) => (b === null ? [] : [b.toString("utf8")])),
    };
  });
  const results = await ctx.store.produce(inputs, (text) => matchesPoison(ctx.faults, text));
  return ok({
    key_schema_id: null,
    value_schema_id: null,
    offsets: results.map((r) =>
      r.ok
        ? { partition: r.partition, offset: r.offset, error_code: null, error: null }
        : { partition: null, offset: null, error_code: r.retriable ? 2 : 1, error: r.error },
    ),
  });
}

// ─── consumers ─────────────────────────────────────────────────────────────────────────────────

function configString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  throw new RestError(422, 42204, `Invalid consumer configuration: ${name}`);
}

async function createConsumer(
  ctx: RestV2Context,
  req: GatewayRequest,
  group: string,
): Promise<GatewayResponse> {
  const body = objectBody(req, true);
  const name = configString(body, "name") ?? `rest-consumer-${randomUUID()}`;
  const format = (configString(body, "format") ?? "binary").toLowerCase();
  if (SCHEMA_FORMATS.has(format)) {
    throw new RestError(
      422,
      42204,
      `Invalid consumer configuration: format ${format} needs a Schema Registry, which the local gateway does not provide.`,
    );
  }
  if (!FORMATS.has(format)) {
    throw new RestError(422, 42204, `Invalid consumer configuration: format ${format}`);
  }
  const reset = configString(body, "auto.offset.reset") ?? "latest";
  const resetMap: Record<string, "earliest" | "latest" | "none"> = {
    earliest: "earliest",
    smallest: "earliest",
    latest: "latest",
    largest: "latest",
    none: "none",
  };
  const autoOffsetReset = resetMap[reset];
  if (autoOffsetReset === undefined) {
    throw new RestError(422, 42204, `Invalid consumer configuration: auto.offset.reset ${reset}`);
  }
  const autoCommit = configString(body, "auto.commit.enable") ?? "true";
  if (autoCommit !== "true" && autoCommit !== "false") {
    throw new RestError(
      422,
      42204,
      `Invalid consumer configuration: auto.commit.enable ${autoCommit}`,
    );
  }
  const config: ConsumerConfig = {
    autoCommit: autoCommit === "true",
    autoCommitIntervalMs: 5000,
    autoOffsetReset,
    idleTimeoutMs: INSTANCE_TIMEOUT_MS,
    format,
  };
  await ctx.groups.create(group, name, config);
  const base = `http://${req.host}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(name)}`;
  return ok({ instance_id: name, base_uri: base });
}

function decodeEmbedded(bytes: Buffer | null, format: string, r: StoredRecord): unknown {
  if (bytes === null) return null;
  if (format === "binary") return bytes.toString("base64");
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new RestError(
      500,
      50002,
      `Error deserializing JSON message at ${r.topic}-${r.partition} offset ${r.offset}`,
    );
  }
}

async function records(
  ctx: RestV2Context,
  req: GatewayRequest,
  inst: ConsumerInstance,
): Promise<GatewayResponse> {
  const format = inst.config.format;
  const accept = header(req, "accept");
  if (accept !== undefined) {
    const asked = accept
      .split(",")
      .map((t) => t.trim())
      .filter((t) => /vnd\.kafka\.[a-z]+\.v2\+json/i.test(t))
      .map((t) => embeddedFormat(t));
    if (asked.length > 0 && !asked.includes(format)) {
      throw new RestError(
        406,
        40601,
        "The requested embedded data format does not match the deserializer for this consumer instance",
      );
    }
  }
  const timeoutParam = req.query.get("timeout");
  const maxBytesParam = req.query.get("max_bytes");
  const timeoutMs =
    timeoutParam !== null && /^\d+$/.test(timeoutParam)
      ? Math.min(Number(timeoutParam), MAX_WAIT_MS)
      : DEFAULT_RECORDS_TIMEOUT_MS;
  const maxBytes =
    maxBytesParam !== null && /^\d+$/.test(maxBytesParam) ? Number(maxBytesParam) : undefined;
  const out = await ctx.groups.serialize(inst, async () => {
    const before = new Map(inst.positions);
    const got = await ctx.groups.poll(inst, {
      timeoutMs,
      maxRecords: MAX_RECORDS,
      maxBytes,
      signal: req.signal,
    });
    try {
      return got.map((r) => ({
        topic: r.topic,
        key: decodeEmbedded(r.key, format, r),
        value: decodeEmbedded(r.value, format, r),
        partition: r.partition,
        offset: r.offset,
      }));
    } catch (err) {
      // As a Kafka consumer stays at a record it cannot deserialize: nothing of this poll counts.
      inst.positions = before;
      throw err;
    }
  });
  return ok(out, `application/vnd.kafka.${format}.v2+json`);
}
