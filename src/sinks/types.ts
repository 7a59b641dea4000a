import type { CouponView } from "../../durable-objects/views.ts";

export type SinkName = "mysql" | "kafka";

/** The Kafka record value and the MySQL row source: one per coupon change (API.md). */
export interface CouponRecord {
  type: "coupon.issued" | "coupon.redeemed" | "coupon.restored";
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
  /** Seqs the sink refused on their own merit (bad data, per-record errors): retried, then dead-lettered. */
  rejected: { seq: number; error: string }[];
}

/** A downstream that accepts batches of outbox items idempotently (by coupon id and version). */
export interface Sink {
  readonly name: SinkName;
  deliver(items: OutboxItem[], event: EventRow): Promise<DeliveryReport>;
}

/** The event's definition as the MySQL sink upserts it into `coupon_events`. */
export interface EventRow {
  id: string;
  name: string;
  totalStock: number;
  startsAt: number;
  endsAt: number | null;
  couponExpiresAt: number | null;
  waves: { at: number; quantity: number }[];
}
