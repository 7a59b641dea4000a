import type { EventDefinition } from "../../durable-objects/ledger.ts";
import type { CouponView } from "../../durable-objects/views.ts";

/** The names come from the sink registry (src/sinks/registry.ts). */
export type { SinkName } from "./registry.ts";

/** The Kafka record value and the MySQL row source: one per coupon change (API.md). */
export interface CouponRecord {
  type:
    | "coupon.issued"
    | "coupon.redeemed"
    | "coupon.restored"
    | "coupon.held"
    | "coupon.hold-released";
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

/** Where a Kafka sink produces, whichever HTTP protocol it speaks. */
export interface KafkaSinkOptions {
  url: string;
  username: string;
  password: string;
  topic: string;
  timeoutMs: number;
}
