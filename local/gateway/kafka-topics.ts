/**
 * Topics and consumer groups behind the gateway's Kafka API (kafka.ts), kept in a real
 * redis-server. See docs/kafka-gateway.md.
 *
 * Redis layout (keys under `kafka:`):
 *   kafka:topics                    hash   topic → partition count (created on first produce)
 *   kafka:topic:{topic}:{partition} stream one partition; entry ID `0-{offset+1}`, so `XADD … 0-*`
 *                                          hands out dense offsets 0, 1, 2, … atomically; fields
 *                                          ts (append time, ms), k (key bytes, absent = null
 *                                          key), v (value bytes, absent = null value)
 *   kafka:offsets:{group}           hash   "{topic}:{partition}" → committed offset (the next
 *                                          offset to read, Kafka's convention)
 */
import { EventEmitter } from "node:events";
import type { Redis } from "ioredis";

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface StoredRecord extends TopicPartition {
  offset: number;
  /** Append time, milliseconds since the epoch. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface ProduceInput {
  key: Buffer | null;
  value: Buffer | null;
  /** Absent: chosen from the key (Kafka's default partitioner) or round robin. */
  partition?: number;
  /** Text checked against the poison strings (key and value as the client sent them). */
  inspect: string[];
}

/** One record's outcome: its place in the log, or why the broker refused it. */
export type ProduceResult =
  | { ok: true; partition: number; offset: number }
  | { ok: false; partition: number; error: string };

/** Kafka's INVALID_RECORD message: what a broker answers for a record it refuses to append. */
export const INVALID_RECORD =
  "INVALID_RECORD: This record has failed the validation on broker and hence will be rejected.";

/** Kafka's topic-name rule (legal characters, at most 249 of them, not "." or ".."). */
export const TOPIC_NAME = /^(?!\.{1,2}$)[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), bit for bit. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ data.length;
  const at = (i: number) => data[i] as number;
  const whole = data.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = at(i) | (at(i + 1) << 8) | (at(i + 2) << 16) | (at(i + 3) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    h = Math.imul(h, m) ^ Math.imul(k, m);
  }
  const rest = data.length & 3;
  if (rest === 3) h ^= at(whole + 2) << 16;
  if (rest >= 2) h ^= at(whole + 1) << 8;
  if (rest >= 1) h = Math.imul(h ^ at(whole), m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  return (h ^ (h >>> 15)) | 0;
}

/** The partition Kafka's default partitioner (BuiltInPartitioner) picks for a keyed record. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

const streamKey = (tp: TopicPartition) => `kafka:topic:${tp.topic}:${tp.partition}`;
const offsetsKey = (group: string) => `kafka:offsets:${group}`;
const tpField = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;
const TOPICS_KEY = "kafka:topics";
const offsetOfId = (id: string) => Number(id.slice(id.indexOf("-") + 1)) - 1;

/** Writes from another gateway process are noticed by polling at this pace. */
const POLL_INTERVAL_MS = 200;

export class TopicStore {
  private readonly redis: Redis;
  private readonly defaultPartitions: number;
  private readonly roundRobin = new Map<string, number>();
  private readonly appended = new EventEmitter().setMaxListeners(0);

  constructor(redis: Redis, defaultPartitions: number) {
    this.redis = redis;
    this.defaultPartitions = defaultPartitions;
  }

  /** Partition count, or undefined for a topic that does not exist (yet). */
  async partitions(topic: string): Promise<number | undefined> {
    const value = Number(await this.redis.hget(TOPICS_KEY, topic));
    return Number.isInteger(value) && value > 0 ? value : undefined;
  }

  async topics(): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(TOPICS_KEY);
    return new Map(Object.entries(all).map(([name, count]) => [name, Number(count)]));
  }

  /**
   * Appends the records to `topic` (created on first use), in order, each to its partition. A
   * record whose inspected text is `poisoned` is not stored and gets INVALID_RECORD; a partition
   * out of range throws (the whole request is wrong).
   */
  async produce(
    topic: string,
    inputs: ProduceInput[],
    poisoned: (text: string) => boolean,
  ): Promise<ProduceResult[]> {
    await this.redis.hsetnx(TOPICS_KEY, topic, String(this.defaultPartitions));
    const count = (await this.partitions(topic)) ?? this.defaultPartitions;
    const partitions = inputs.map((input) => {
      if (input.partition === undefined) {
        if (input.key !== null) return partitionForKey(input.key, count);
        const next = this.roundRobin.get(topic) ?? 0;
        this.roundRobin.set(topic, next + 1);
        return next % count;
      }
      if (input.partition < 0 || input.partition >= count) {
        throw new RangeError(`partition ${input.partition} is not in [0, ${count}) of ${topic}`);
      }
      return input.partition;
    });
    const pipeline = this.redis.pipeline();
    const results: ProduceResult[] = inputs.map((input, i) => {
      const partition = partitions[i] as number;
      if (input.inspect.some(poisoned)) return { ok: false, partition, error: INVALID_RECORD };
      const fields: (string | Buffer)[] = ["ts", String(Date.now())];
      if (input.key !== null) fields.push("k", input.key);
      if (input.value !== null) fields.push("v", input.value);
      pipeline.xadd(streamKey({ topic, partition }), "0-*", ...fields);
      return { ok: true, partition, offset: -1 };
    });
    const replies = (await pipeline.exec()) ?? [];
    let reply = 0;
    for (const [i, result] of results.entries()) {
      if (!result.ok) continue;
      const [err, id] = replies[reply++] ?? [new Error("no reply"), null];
      if (err || typeof id !== "string") {
        results[i] = {
          ok: false,
          partition: result.partition,
          error: `KAFKA_STORAGE_ERROR: ${err}`,
        };
        continue;
      }
      result.offset = offsetOfId(id);
      this.appended.emit(streamKey({ topic, partition: result.partition }));
    }
    return results;
  }

  /** Up to `max` records of one partition from `offset` on. */
  async read(tp: TopicPartition, offset: number, max: number): Promise<StoredRecord[]> {
    const start = `0-${offset + 1}`;
    const raw = (await this.redis.xrangeBuffer(streamKey(tp), start, "+", "COUNT", max)) as [
      Buffer,
      Buffer[],
    ][];
    return raw.map(([id, fields]) => {
      const offset = offsetOfId(id.toString());
      const record: StoredRecord = { ...tp, offset, timestamp: 0, key: null, value: null };
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const [name, value] = [fields[i]?.toString(), fields[i + 1] as Buffer];
        if (name === "ts") record.timestamp = Number(value.toString());
        else if (name === "k") record.key = value;
        else if (name === "v") record.value = value;
      }
      return record;
    });
  }

  /** The offset the partition's next record will get. */
  async endOffset(tp: TopicPartition): Promise<number> {
    const [last] = await this.redis.xrevrange(streamKey(tp), "+", "-", "COUNT", 1);
    return last ? offsetOfId(last[0]) + 1 : 0;
  }

  async committed(group: string, tp: TopicPartition): Promise<number | undefined> {
    const value = await this.redis.hget(offsetsKey(group), tpField(tp));
    return value === null ? undefined : Number(value);
  }

  async commit(group: string, offsets: Map<string, number>): Promise<void> {
    if (offsets.size > 0) await this.redis.hset(offsetsKey(group), offsets);
  }

  /** Resolves when one of the partitions gets a record here, after `ms`, or on abort. */
  waitForAppend(tps: TopicPartition[], ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const keys = tps.map(streamKey);
      const done = () => {
        clearTimeout(timer);
        for (const key of keys) this.appended.off(key, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, POLL_INTERVAL_MS));
      for (const key of keys) this.appended.on(key, done);
      signal.addEventListener("abort", done);
    });
  }
}

// ─── consumer groups ───────────────────────────────────────────────────────────────────────────

export interface ConsumerConfig {
  /** Commit what earlier polls returned, at the next poll and when the instance closes. */
  autoCommit: boolean;
  /** Where a partition without a committed offset starts. */
  reset: "earliest" | "latest";
  /** REST v2: the embedded format records are returned in. */
  format: "binary" | "json";
}

export interface Consumer {
  readonly group: string;
  readonly name: string;
  readonly config: ConsumerConfig;
  topics: string[];
  /** Next offset to read per partition ("{topic}:{partition}"). */
  positions: Map<string, number>;
  lastSeen: number;
  /** Operations on one instance run one at a time, as a Kafka consumer is used from one thread. */
  queue: Promise<unknown>;
}

/** An instance left alone this long is closed (kafka-rest's consumer.instance.timeout.ms). */
const IDLE_MS = 300_000;

/**
 * Consumer instances by group, kept in this process as a REST proxy keeps them; committed offsets
 * live in Redis. A subscribed topic's partitions are spread over the group's instances sorted by
 * name (partition p to instance p mod n), recomputed at every poll: no join/sync rounds.
 */
export class ConsumerGroups {
  private readonly store: TopicStore;
  private readonly groups = new Map<string, Map<string, Consumer>>();

  constructor(store: TopicStore) {
    this.store = store;
  }

  async find(group: string, name: string): Promise<Consumer | undefined> {
    await this.closeIdle();
    const consumer = this.groups.get(group)?.get(name);
    if (consumer) consumer.lastSeen = Date.now();
    return consumer;
  }

  /** A new instance; undefined when the group already has one of that name. */
  async create(group: string, name: string, config: ConsumerConfig): Promise<Consumer | undefined> {
    await this.closeIdle();
    const members = this.groups.get(group) ?? new Map<string, Consumer>();
    this.groups.set(group, members);
    if (members.has(name)) return undefined;
    const consumer: Consumer = {
      group,
      name,
      config,
      topics: [],
      positions: new Map(),
      lastSeen: Date.now(),
      queue: Promise.resolve(),
    };
    members.set(name, consumer);
    return consumer;
  }

  /** Runs `fn` after the instance's earlier operations. */
  serialize<T>(consumer: Consumer, fn: () => Promise<T>): Promise<T> {
    const run = consumer.queue.then(fn, fn);
    consumer.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the instance, committing its positions first with auto commit. */
  async close(consumer: Consumer): Promise<void> {
    const members = this.groups.get(consumer.group);
    if (members?.get(consumer.name) !== consumer) return;
    members.delete(consumer.name);
    if (members.size === 0) this.groups.delete(consumer.group);
    if (consumer.config.autoCommit) await this.store.commit(consumer.group, consumer.positions);
  }

  async closeAll(): Promise<void> {
    for (const members of [...this.groups.values()]) {
      for (const consumer of [...members.values()]) await this.close(consumer);
    }
  }

  /**
   * Kafka's poll: records of the instance's partitions from each one's position on, waiting up to
   * `timeoutMs` for the first; positions move past what is returned.
   */
  async poll(
    consumer: Consumer,
    opts: { timeoutMs: number; maxRecords: number; signal: AbortSignal },
  ): Promise<StoredRecord[]> {
    if (consumer.config.autoCommit) await this.store.commit(consumer.group, consumer.positions);
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const assigned = await this.assignment(consumer);
      const out: StoredRecord[] = [];
      for (const tp of assigned) {
        if (out.length >= opts.maxRecords) break;
        const batch = await this.store.read(
          tp,
          await this.position(consumer, tp),
          opts.maxRecords - out.length,
        );
        const last = batch.at(-1);
        if (last) consumer.positions.set(tpField(tp), last.offset + 1);
        out.push(...batch);
      }
      consumer.lastSeen = Date.now();
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || opts.signal.aborted) return out;
      await this.store.waitForAppend(assigned, left, opts.signal);
    }
  }

  /** This instance's share of its topics' partitions; positions of others are dropped. */
  private async assignment(consumer: Consumer): Promise<TopicPartition[]> {
    const members = [...(this.groups.get(consumer.group)?.values() ?? [])].sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    const mine: TopicPartition[] = [];
    for (const topic of consumer.topics) {
      const subscribers = members.filter((m) => m.topics.includes(topic));
      const count = (await this.store.partitions(topic)) ?? 0;
      for (let partition = 0; partition < count; partition++) {
        if (subscribers[partition % subscribers.length] === consumer)
          mine.push({ topic, partition });
      }
    }
    const kept = new Set(mine.map(tpField));
    for (const key of consumer.positions.keys()) if (!kept.has(key)) consumer.positions.delete(key);
    return mine;
  }

  private async position(consumer: Consumer, tp: TopicPartition): Promise<number> {
    const known = consumer.positions.get(tpField(tp));
    if (known !== undefined) return known;
    const start =
      (await this.store.committed(consumer.group, tp)) ??
      (consumer.config.reset === "earliest" ? 0 : await this.store.endOffset(tp));
    consumer.positions.set(tpField(tp), start);
    return start;
  }

  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const members of [...this.groups.values()]) {
      for (const consumer of [...members.values()]) {
        if (now - consumer.lastSeen > IDLE_MS) await this.close(consumer);
      }
    }
  }
}
