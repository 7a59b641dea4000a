import type { CouponView } from "./coupon.ts";
import type { EventDefinition } from "./ledger.ts";

/**
 * Every sink the outbox feeds, in the order stats and health list them. Stored in the objects'
 * delivery rows and dead letters: never rename one (removing one leaves its rows unread; a
 * storage migration may delete them). Adding a sink is its name here and its adapter in
 * platform/sinks/registry.ts (the compiler refuses a name without one): its delivery rows,
 * backoff, dead letters, stats, health and the OpenAPI enums all follow from this list.
 */
export const SINK_NAMES = ["mysql", "kafka"] as const;

export type SinkName = (typeof SINK_NAMES)[number];

export function isSinkName(name: string): name is SinkName {
  return (SINK_NAMES as readonly string[]).includes(name);
}

/** One value per sink, keyed by name in registry order (stats, totals, schemas). */
export function perSink<T>(value: (name: SinkName) => T): Record<SinkName, T> {
  return Object.fromEntries(SINK_NAMES.map((name) => [name, value(name)])) as Record<SinkName, T>;
}

/** A sink as stats and health report it: delivering, backing off after failures, or not configured. */
export const SINK_STATES = ["ok", "retrying", "disabled"] as const;

export type SinkState = (typeof SINK_STATES)[number];

/** What a record says happened to a coupon (the topic's documented `type`s, API.md). */
export const COUPON_RECORD_TYPES = [
  "coupon.issued",
  "coupon.redeemed",
  "coupon.restored",
  "coupon.held",
  "coupon.hold-released",
] as const;

export type CouponRecordType = (typeof COUPON_RECORD_TYPES)[number];

/** The Kafka record value and the MySQL row source: one per coupon change (API.md). */
export interface CouponRecord {
  type: CouponRecordType;
  schemaVersion: 1;
  coupon: CouponView;
  at: string;
}

export interface OutboxItem {
  seq: number;
  /** Monotonic per coupon: a late redelivery of an older change never overwrites a newer one. */
  version: number;
  record: CouponRecord;
}

/** What one delivery attempt achieved. A sink that cannot be reached throws instead. */
export interface DeliveryReport {
  /** Outbox seqs the sink now holds durably. */
  delivered: number[];
  /**
   * Seqs the sink refused on their own merit (bad data, per-record errors): retried, then
   * dead-lettered; `permanent` ones (a conflict no retry can resolve) are dead-lettered at once.
   */
  rejected: { seq: number; error: string; permanent?: boolean }[];
}

/** A downstream that accepts batches of outbox items idempotently (by coupon id and version). */
export interface Sink {
  /** `event` is the definition of the event the items belong to (MySQL keeps a row of it). */
  deliver(items: OutboxItem[], event: EventDefinition): Promise<DeliveryReport>;
  /** Rejects when the sink cannot be reached (`GET /health`); writes nothing. */
  probe(): Promise<void>;
}
