/**
 * The topic store behind both Kafka-over-HTTP protocols of the local gateway (Upstash Kafka REST
 * and Kafka REST Proxy v2): topics kept as Redis Streams, consumer groups with committed offsets
 * in Redis hashes, and the in-memory consumer instances both protocols create. See
 * docs/kafka-gateway.md.
 *
 * Redis layout (one redis-server, keys under `kafka:`):
 *   kafka:topics                    hash   topic → partition count (created on first produce)
 *   kafka:topic:{topic}:{partition} stream one partition; entry ID `0-{offset+1}` (so XADD `0-*`
 *                                          hands out dense offsets 0, 1, 2, … atomically), fields
 *                                          ts (ms), k (key bytes, absent = null key),
 *                                          v (value bytes, absent = null value), h (headers JSON)
 *   kafka:offsets:{group}           hash   "{topic}:{partition}" → committed offset (the next
 *                                          offset to read, Kafka's convention)
 */
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import type { Redis } from "ioredis";

// ─── shared request/response plumbing for the protocol modules ─────────────────────────────────

export interface GatewayRequest {
  method: string;
  /** Decoded path segments. */
  path: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The Host header (for REST v2 `base_uri`). */
  host: string;
  /** Aborted when the HTTP client goes away (long polls stop waiting). */
  signal: AbortSignal;
}

export interface GatewayResponse {
  status: number;
  /** JSON-encoded unless undefined (then no body). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

// ─── records ───────────────────────────────────────────────────────────────────────────────────

export interface RecordHeader {
  key: string;
  value: string;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface StoredRecord extends TopicPartition {
  offset: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface ProduceInput {
  topic: string;
  /** Absent: chosen from the key (murmur2, as Kafka's default partitioner) or round robin. */
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds; absent: now. */
  timestamp?: number;
  headers?: RecordHeader[];
  /** Text checked against the poison strings (key and value as the client sent them). */
  inspect: string[];
}

export type ProduceResult =
  | { ok: true; topic: string; partition: number; offset: number; timestamp: number }
  | { ok: false; topic: string; partition: number | null; error: string; retriable: boolean };

/** Kafka's INVALID_RECORD message: what a broker answers for a record it refuses to append. */
export const INVALID_RECORD =
  "INVALID_RECORD: This record has failed the validation on broker and hence will be rejected.";

/** Kafka's topic-name rule (legal characters, at most 249 of them, not "." or ".."). */
export function validTopicName(name: string): boolean {
  return /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== "." && name !== "..";
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), bit for bit. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4] as number) |
      ((data[i4 + 1] as number) << 8) |
      ((data[i4 + 2] as number) << 16) |
      ((data[i4 + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= (data[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= data[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a keyed record. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

const streamKey = (topic: string, partition: number) => `kafka:topic:${topic}:${partition}`;
const offsetsKey = (group: string) => `kafka:offsets:${group}`;
const tpField = (topic: string, partition: number) => `${topic}:${partition}`;
const TOPICS_KEY = "kafka:topics";

type RawEntry = [Buffer, Buffer[]];

export class TopicStore {
  readonly redis: Redis;
  readonly defaultPartitions: number;
  private readonly roundRobin = new Map<string, number>();
  private readonly appended = new EventEmitter();

  constructor(redis: Redis, defaultPartitions: number) {
    this.redis = redis;
    this.defaultPartitions = defaultPartitions;
    this.appended.setMaxListeners(0);
  }

  /** Partition count, or undefined for a topic that does not exist (yet). */
  async partitions(topic: string): Promise<number | undefined> {
    const value = await this.redis.hget(TOPICS_KEY, topic);
    if (value === null) return undefined;
    const n = Number(value);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

  /** Creates the topic with the default partition count unless it exists (auto-create). */
  async ensureTopic(topic: string): Promise<number> {
    await this.redis.hsetnx(TOPICS_KEY, topic, String(this.defaultPartitions));
    return (await this.partitions(topic)) ?? this.defaultPartitions;
  }

  async topics(): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(TOPICS_KEY);
    const out = new Map<string, number>();
    for (const [name, count] of Object.entries(all).sort(([a], [b]) => a.localeCompare(b))) {
      const n = Number(count);
      if (Number.isInteger(n) && n > 0) out.set(name, n);
    }
    return out;
  }

  /**
   * Appends the records, in order, each to its partition. A record whose inspected text matches
   * `poisoned` is not stored and gets an INVALID_RECORD result; the others are stored.
   */
  async produce(
    inputs: ProduceInput[],
    poisoned: (text: string) => boolean,
  ): Promise<ProduceResult[]> {
    const results: (ProduceResult | undefined)[] = [];
    const pipeline = this.redis.pipeline();
    const pending: { index: number; topic: string; partition: number; timestamp: number }[] = [];
    const counts = new Map<string, number>();
    for (const [index, input] of inputs.entries()) {
      if (!validTopicName(input.topic)) {
        results[index] = {
          ok: false,
          topic: input.topic,
          partition: null,
          error: `INVALID_TOPIC_EXCEPTION: Invalid topic name '${input.topic}'`,
          retriable: false,
        };
        continue;
      }
      const count = counts.get(input.topic) ?? (await this.ensureTopic(input.topic));
      counts.set(input.topic, count);
      let partition: number;
      if (input.partition !== undefined) {
        if (!Number.isInteger(input.partition) || input.partition < 0 || input.partition >= count) {
          results[index] = {
            ok: false,
            topic: input.topic,
            partition: input.partition,
            error: `UNKNOWN_TOPIC_OR_PARTITION: partition ${input.partition} is not in the range [0...${count})`,
            retriable: false,
          };
          continue;
        }
        partition = input.partition;
      } else if (input.key !== null) {
        partition = partitionForKey(input.key, count);
      } else {
        const next = this.roundRobin.get(input.topic) ?? 0;
        this.roundRobin.set(input.topic, next + 1);
        partition = next % count;
      }
      if (input.inspect.some((text) => poisoned(text))) {
        results[index] = {
          ok: false,
          topic: input.topic,
          partition,
          error: INVALID_RECORD,
          retriable: false,
        };
        continue;
      }
      const timestamp = input.timestamp ?? Date.now();
      const fields: (string | Buffer)[] = ["ts", String(timestamp)];
      if (input.key !== null) fields.push("k", input.key);
      if (input.value !== null) fields.push("v", input.value);
      if (input.headers && input.headers.length > 0)
        fields.push("h", JSON.stringify(input.headers));
      pipeline.xadd(streamKey(input.topic, partition), "0-*", ...fields);
      pending.push({ index, topic: input.topic, partition, timestamp });
    }
    if (pending.length > 0) {
      const replies = (await pipeline.exec()) ?? [];
      for (const [i, entry] of pending.entries()) {
        const [err, id] = replies[i] ?? [new Error("no reply"), null];
        if (err || typeof id !== "string") {
          results[entry.index] = {
            ok: false,
            topic: entry.topic,
            partition: entry.partition,
            error: `KAFKA_STORAGE_ERROR: ${err instanceof Error ? err.message : "append failed"}`,
            retriable: true,
          };
          continue;
        }
        results[entry.index] = {
          ok: true,
          topic: entry.topic,
          partition: entry.partition,
          offset: offsetOfId(id),
          timestamp: entry.timestamp,
        };
        this.appended.emit(streamKey(entry.topic, entry.partition));
      }
    }
    return results as ProduceResult[];
  }

  /** Up to `max` records of one partition from `offset` on (inclusive). */
  async read(tp: TopicPartition, offset: number, max: number): Promise<StoredRecord[]> {
    if (max <= 0) return [];
    const start = `0-${Math.max(0, offset) + 1}`;
    const raw = (await this.redis.callBuffer(
      "XRANGE",
      streamKey(tp.topic, tp.partition),
      start,
      "+",
      "COUNT",
      String(max),
    )) as RawEntry[];
    return raw.map(([id, fields]) => toRecord(tp, id.toString("latin1"), fields));
  }

  /** The log end offset: the offset the next record will get. */
  async endOffset(tp: TopicPartition): Promise<number> {
    try {
      const info = (await this.redis.call(
        "XINFO",
        "STREAM",
        streamKey(tp.topic, tp.partition),
      )) as (string | number | unknown[])[];
      const at = info.indexOf("last-generated-id");
      const id = info[at + 1];
      return typeof id === "string" ? offsetOfId(id) + 1 : 0;
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return 0;
      throw err;
    }
  }

  /** The first offset still stored (the end offset when the partition is empty). */
  async beginningOffset(tp: TopicPartition): Promise<number> {
    const first = (await this.redis.call(
      "XRANGE",
      streamKey(tp.topic, tp.partition),
      "-",
      "+",
      "COUNT",
      "1",
    )) as [string, string[]][];
    const entry = first[0];
    return entry ? offsetOfId(entry[0]) : this.endOffset(tp);
  }

  /** The earliest offset whose timestamp is ≥ `timestamp` (ms), or -1 when there is none. */
  async offsetForTimestamp(tp: TopicPartition, timestamp: number): Promise<number> {
    let from = await this.beginningOffset(tp);
    for (;;) {
      const batch = await this.read(tp, from, 1000);
      if (batch.length === 0) return -1;
      const hit = batch.find((r) => r.timestamp >= timestamp);
      if (hit) return hit.offset;
      from = (batch[batch.length - 1] as StoredRecord).offset + 1;
    }
  }

  async committed(group: string, tp: TopicPartition): Promise<number | undefined> {
    const value = await this.redis.hget(offsetsKey(group), tpField(tp.topic, tp.partition));
    return value === null ? undefined : Number(value);
  }

  async commit(group: string, offsets: (TopicPartition & { offset: number })[]): Promise<void> {
    if (offsets.length === 0) return;
    const args: string[] = [];
    for (const o of offsets) args.push(tpField(o.topic, o.partition), String(o.offset));
    await this.redis.hset(offsetsKey(group), ...args);
  }

  /** Resolves when one of the partitions gets a record here, or after `ms` (whichever first). */
  waitForAppend(tps: TopicPartition[], ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const keys = tps.map((tp) => streamKey(tp.topic, tp.partition));
      const done = () => {
        clearTimeout(timer);
        for (const key of keys) this.appended.off(key, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const key of keys) this.appended.on(key, done);
      signal.addEventListener("abort", done);
    });
  }

  /**
   * Records from several partitions starting at the given offsets, waiting up to `timeoutMs` for
   * the first one to arrive (no consumer group involved: the Upstash fetch API).
   */
  async fetch(
    from: (TopicPartition & { offset: number })[],
    opts: { timeoutMs: number; maxRecords: number; signal: AbortSignal },
  ): Promise<StoredRecord[]> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const out: StoredRecord[] = [];
      for (const tp of from) {
        if (out.length >= opts.maxRecords) break;
        out.push(...(await this.read(tp, tp.offset, opts.maxRecords - out.length)));
      }
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || opts.signal.aborted) return out;
      await this.waitForAppend(from, Math.min(left, POLL_INTERVAL_MS), opts.signal);
    }
  }
}

/** Writes from another process are noticed by polling at this pace. */
const POLL_INTERVAL_MS = 200;

function offsetOfId(id: string): number {
  const dash = id.indexOf("-");
  return Number(id.slice(dash + 1)) - 1;
}

function toRecord(tp: TopicPartition, id: string, fields: Buffer[]): StoredRecord {
  const record: StoredRecord = {
    topic: tp.topic,
    partition: tp.partition,
    offset: offsetOfId(id),
    timestamp: 0,
    key: null,
    value: null,
    headers: [],
  };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = (fields[i] as Buffer).toString("latin1");
    const value = fields[i + 1] as Buffer;
    if (name === "ts") record.timestamp = Number(value.toString("latin1"));
    else if (name === "k") record.key = value;
    else if (name === "v") record.value = value;
    else if (name === "h") record.headers = parseHeaders(value.toString("utf8"));
  }
  return record;
}

function parseHeaders(text: string): RecordHeader[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (h): h is RecordHeader =>
        typeof h === "object" &&
        h !== null &&
        typeof (h as RecordHeader).key === "string" &&
        typeof (h as RecordHeader).value === "string",
    );
  } catch {
    return [];
  }
}

// ─── consumer groups ───────────────────────────────────────────────────────────────────────────

export type OffsetReset = "earliest" | "latest" | "none";

export interface ConsumerConfig {
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  autoOffsetReset: OffsetReset;
  /** Idle time after which the instance is closed (as the REST servers do). */
  idleTimeoutMs: number;
  /** REST v2 only: the embedded format records are returned in. */
  format: string;
}

export interface ConsumerInstance {
  readonly group: string;
  readonly name: string;
  readonly config: ConsumerConfig;
  /** Subscribed topics (group-managed assignment). */
  topics: string[];
  /** REST v2 `topic_pattern` subscription. */
  pattern: RegExp | undefined;
  /** REST v2 manual assignment (no group management); undefined when not assigned manually. */
  manual: TopicPartition[] | undefined;
  /** Partitions currently assigned (recomputed at every group change and poll). */
  assigned: TopicPartition[];
  /** Next offset to read per partition ("{topic}:{partition}"); set once read or sought. */
  positions: Map<string, number>;
  lastSeen: number;
  lastAutoCommit: number;
  closed: boolean;
  /** Serializes operations on one instance, as a Kafka consumer is used from one thread. */
  queue: Promise<unknown>;
}

export class ConsumerError extends Error {
  readonly kind: "not_found" | "exists" | "no_offset" | "conflict";
  constructor(kind: ConsumerError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

const tpKey = (tp: TopicPartition) => tpField(tp.topic, tp.partition);

function parseTpKey(key: string): TopicPartition {
  const at = key.lastIndexOf(":");
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

/**
 * Consumer instances by group, kept in this process (as the REST servers keep them); committed
 * offsets live in Redis. Partitions of a subscribed topic are spread over the group's subscribed
 * instances (sorted by name, partition p to instance p mod n), recomputed whenever the group
 * changes: an immediate rebalance, without join/sync rounds or generations.
 */
export class ConsumerGroups {
  private readonly store: TopicStore;
  private readonly groups = new Map<string, Map<string, ConsumerInstance>>();

  constructor(store: TopicStore) {
    this.store = store;
  }

  /** The instance, or undefined; idle instances are closed first. */
  async find(group: string, name: string): Promise<ConsumerInstance | undefined> {
    await this.expireIdle();
    const inst = this.groups.get(group)?.get(name);
    if (inst) inst.lastSeen = Date.now();
    return inst;
  }

  /** Creates an instance; `ConsumerError("exists")` if the name is taken in the group. */
  async create(group: string, name: string, config: ConsumerConfig): Promise<ConsumerInstance> {
    await this.expireIdle();
    let members = this.groups.get(group);
    if (!members) {
      members = new Map();
      this.groups.set(group, members);
    }
    if (members.has(name)) {
      throw new ConsumerError(
        "exists",
        `Consumer with specified consumer ID already exists in the specified consumer group.`,
      );
    }
    const now = Date.now();
    const inst: ConsumerInstance = {
      group,
      name,
      config,
      topics: [],
      pattern: undefined,
      manual: undefined,
      assigned: [],
      positions: new Map(),
      lastSeen: now,
      lastAutoCommit: now,
      closed: false,
      queue: Promise.resolve(),
    };
    members.set(name, inst);
    return inst;
  }

  async findOrCreate(group: string, name: string, config: ConsumerConfig) {
    return (await this.find(group, name)) ?? this.create(group, name, config);
  }

  /** Runs `fn` after the instance's earlier operations, one at a time. */
  serialize<T>(inst: ConsumerInstance, fn: () => Promise<T>): Promise<T> {
    const run = inst.queue.then(fn, fn);
    inst.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the instance (committing its positions first when auto commit is on). */
  async remove(inst: ConsumerInstance): Promise<void> {
    if (inst.closed) return;
    inst.closed = true;
    if (inst.config.autoCommit) await this.commitPositions(inst);
    const members = this.groups.get(inst.group);
    members?.delete(inst.name);
    if (members && members.size === 0) this.groups.delete(inst.group);
    await this.rebalance(inst.group);
  }

  async subscribe(inst: ConsumerInstance, topics: string[], pattern?: RegExp): Promise<void> {
    if (inst.manual !== undefined) {
      throw new ConsumerError(
        "conflict",
        "Subscription to topics, partitions and pattern are mutually exclusive.",
      );
    }
    const same =
      pattern === undefined &&
      inst.pattern === undefined &&
      topics.length === inst.topics.length &&
      topics.every((t) => inst.topics.includes(t));
    if (same) return;
    inst.topics = [...new Set(topics)];
    inst.pattern = pattern;
    await this.rebalance(inst.group);
  }

  async unsubscribe(inst: ConsumerInstance): Promise<void> {
    inst.topics = [];
    inst.pattern = undefined;
    inst.manual = undefined;
    await this.rebalance(inst.group);
  }

  async assign(inst: ConsumerInstance, partitions: TopicPartition[]): Promise<void> {
    if (inst.topics.length > 0 || inst.pattern !== undefined) {
      throw new ConsumerError(
        "conflict",
        "Subscription to topics, partitions and pattern are mutually exclusive.",
      );
    }
    inst.manual = dedupe(partitions);
    await this.rebalance(inst.group);
  }

  /** Subscribed topics (pattern subscriptions resolved against the existing topics). */
  async subscribedTopics(inst: ConsumerInstance): Promise<string[]> {
    if (inst.pattern === undefined) return [...inst.topics];
    const pattern = inst.pattern;
    return [...(await this.store.topics()).keys()].filter((t) => fullMatch(pattern, t));
  }

  /** Recomputes every member's assignment; revoked partitions are committed (auto commit). */
  async rebalance(group: string): Promise<void> {
    const members = [...(this.groups.get(group)?.values() ?? [])].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const next = new Map<ConsumerInstance, TopicPartition[]>();
    for (const m of members) next.set(m, m.manual ? [...m.manual] : []);
    const wanted = new Map<string, ConsumerInstance[]>();
    for (const m of members) {
      if (m.manual) continue;
      for (const topic of await this.subscribedTopics(m)) {
        const list = wanted.get(topic) ?? [];
        list.push(m);
        wanted.set(topic, list);
      }
    }
    for (const [topic, subscribers] of wanted) {
      const count = await this.store.partitions(topic);
      if (count === undefined) continue;
      for (let p = 0; p < count; p++) {
        const owner = subscribers[p % subscribers.length] as ConsumerInstance;
        next.get(owner)?.push({ topic, partition: p });
      }
    }
    for (const m of members) {
      const assigned = next.get(m) ?? [];
      const keep = new Set(assigned.map(tpKey));
      const revoked = [...m.positions.entries()].filter(([key]) => !keep.has(key));
      if (revoked.length > 0 && m.config.autoCommit && !m.manual) {
        await this.store.commit(
          group,
          revoked.map(([key, offset]) => ({ ...parseTpKey(key), offset })),
        );
      }
      for (const [key] of revoked) m.positions.delete(key);
      m.assigned = assigned;
    }
  }

  /**
   * Kafka's poll: records from the assigned partitions, from each partition's position on,
   * waiting up to `timeoutMs` for the first one. Positions advance past what is returned.
   */
  async poll(
    inst: ConsumerInstance,
    opts: { timeoutMs: number; maxRecords: number; maxBytes?: number; signal: AbortSignal },
  ): Promise<StoredRecord[]> {
    const deadline = Date.now() + opts.timeoutMs;
    let turn = 0;
    for (;;) {
      if (inst.closed) throw new ConsumerError("not_found", "Consumer instance not found.");
      await this.rebalance(inst.group);
      await this.autoCommitIfDue(inst);
      const out: StoredRecord[] = [];
      let bytes = 0;
      const assigned = rotate(inst.assigned, turn++);
      for (const tp of assigned) {
        if (out.length >= opts.maxRecords) break;
        const position = await this.position(inst, tp);
        let batch = await this.store.read(tp, position, opts.maxRecords - out.length);
        if (batch.length === 0) {
          // Out of range (the stream was deleted or trimmed under us): reset like Kafka does.
          const end = await this.store.endOffset(tp);
          if (position > end) {
            inst.positions.set(tpKey(tp), await this.resetOffset(inst, tp));
          }
          continue;
        }
        if (opts.maxBytes !== undefined) {
          const fitting: StoredRecord[] = [];
          for (const r of batch) {
            const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
            if (bytes + size > opts.maxBytes && (out.length > 0 || fitting.length > 0)) break;
            bytes += size;
            fitting.push(r);
          }
          batch = fitting;
        }
        if (batch.length === 0) break;
        out.push(...batch);
        inst.positions.set(tpKey(tp), (batch[batch.length - 1] as StoredRecord).offset + 1);
      }
      inst.lastSeen = Date.now();
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || opts.signal.aborted) return out;
      await this.store.waitForAppend(inst.assigned, Math.min(left, POLL_INTERVAL_MS), opts.signal);
    }
  }

  /** Commits the given offsets, or (none given) the instance's current positions. */
  async commit(
    inst: ConsumerInstance,
    offsets?: (TopicPartition & { offset: number })[],
  ): Promise<void> {
    if (offsets === undefined || offsets.length === 0) {
      await this.commitPositions(inst);
      return;
    }
    await this.store.commit(inst.group, offsets);
  }

  /** Overrides the next offset to read (REST v2 positions). */
  seek(inst: ConsumerInstance, tp: TopicPartition, offset: number): void {
    inst.positions.set(tpKey(tp), offset);
  }

  /** Every group with its instances and their current assignments (Upstash `GET /consumers`). */
  async list(): Promise<
    {
      name: string;
      instances: { name: string; topics: { topic: string; partitions: number[] }[] }[];
    }[]
  > {
    await this.expireIdle();
    const out = [];
    for (const [group, members] of this.groups) {
      await this.rebalance(group);
      const instances = [...members.values()].map((inst) => {
        const byTopic = new Map<string, number[]>();
        for (const tp of inst.assigned) {
          const list = byTopic.get(tp.topic) ?? [];
          list.push(tp.partition);
          byTopic.set(tp.topic, list);
        }
        return {
          name: inst.name,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        };
      });
      out.push({ name: group, instances });
    }
    return out;
  }

  /** Closes every instance (at gateway shutdown), committing auto-commit positions. */
  async closeAll(): Promise<void> {
    for (const members of [...this.groups.values()]) {
      for (const inst of [...members.values()]) await this.remove(inst).catch(() => undefined);
    }
  }

  private async position(inst: ConsumerInstance, tp: TopicPartition): Promise<number> {
    const known = inst.positions.get(tpKey(tp));
    if (known !== undefined) return known;
    const committed = await this.store.committed(inst.group, tp);
    const start = committed ?? (await this.resetOffset(inst, tp));
    inst.positions.set(tpKey(tp), start);
    return start;
  }

  private async resetOffset(inst: ConsumerInstance, tp: TopicPartition): Promise<number> {
    switch (inst.config.autoOffsetReset) {
      case "earliest":
        return this.store.beginningOffset(tp);
      case "latest":
        return this.store.endOffset(tp);
      default:
        throw new ConsumerError(
          "no_offset",
          `Undefined offset with no reset policy for partitions: [${tp.topic}-${tp.partition}]`,
        );
    }
  }

  private async commitPositions(inst: ConsumerInstance): Promise<void> {
    inst.lastAutoCommit = Date.now();
    await this.store.commit(
      inst.group,
      [...inst.positions.entries()].map(([key, offset]) => ({ ...parseTpKey(key), offset })),
    );
  }

  private async autoCommitIfDue(inst: ConsumerInstance): Promise<void> {
    if (!inst.config.autoCommit) return;
    if (Date.now() - inst.lastAutoCommit < inst.config.autoCommitIntervalMs) return;
    await this.commitPositions(inst);
  }

  private async expireIdle(): Promise<void> {
    const now = Date.now();
    for (const members of [...this.groups.values()]) {
      for (const inst of [...members.values()]) {
        if (now - inst.lastSeen > inst.config.idleTimeoutMs) await this.remove(inst);
      }
    }
  }
}

function dedupe(tps: TopicPartition[]): TopicPartition[] {
  const seen = new Map<string, TopicPartition>();
  for (const tp of tps) seen.set(tpKey(tp), { topic: tp.topic, partition: tp.partition });
  return [...seen.values()];
}

function rotate<T>(list: T[], by: number): T[] {
  if (list.length === 0) return list;
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function fullMatch(pattern: RegExp, text: string): boolean {
  const m = pattern.exec(text);
  return m !== null && m.index === 0 && m[0].length === text.length;
}
