import type { Redis } from "@upstash/redis/cloudflare";
import { perSink, SINK_NAMES, type SinkName } from "../domain/sinks.ts";
import type { StatsView } from "../domain/views.ts";
import { type ErrorClass, errorClass } from "./error-class.ts";

/**
 * Each event's object publishes its outbox and sink summary to Redis after drain steps, so that
 * `GET /health` can report the whole service without waking every object.
 */
const INDEX = "coupon:outbox:events";
const key = (eventId: string) => `coupon:outbox:${eventId}`;
const KEEP_MS = 24 * 3600_000;
/** Health reads the most recently active events, at most this many. */
const READ_LIMIT = 200;

export interface OutboxSummary {
  eventId: string;
  /** When it was published (epoch ms). */
  at: number;
  outbox: StatsView["outbox"];
  sinks: StatsView["sinks"];
}

export async function publishOutboxSummary(redis: Redis, summary: OutboxSummary): Promise<void> {
  await redis
    .pipeline()
    .set(key(summary.eventId), summary, { px: KEEP_MS })
    .zadd(INDEX, { score: summary.at, member: summary.eventId })
    .zremrangebyscore(INDEX, 0, summary.at - KEEP_MS)
    .exec();
}

export interface SinkTotals {
  delivered: number;
  backlog: number;
  deadLetters: number;
  /** Events whose object reports this sink `retrying`. */
  retryingEvents: number;
  /** The class of the latest error an event reports for this sink (never its text: public). */
  lastErrorClass: ErrorClass | null;
}

export interface OutboxTotals {
  events: number;
  pending: number;
  oldestAgeMs: number;
  deadLetters: number;
  sinks: Record<SinkName, SinkTotals>;
}

export async function readOutboxTotals(redis: Redis, now: number): Promise<OutboxTotals> {
  const ids = await redis.zrange<string[]>(INDEX, 0, READ_LIMIT - 1, { rev: true });
  const summaries =
    ids.length === 0 ? [] : await redis.mget<(OutboxSummary | null)[]>(...ids.map(key));
  const sink = (): SinkTotals => ({
    delivered: 0,
    backlog: 0,
    deadLetters: 0,
    retryingEvents: 0,
    lastErrorClass: null,
  });
  const totals: OutboxTotals = {
    events: 0,
    pending: 0,
    oldestAgeMs: 0,
    deadLetters: 0,
    sinks: perSink(sink),
  };
  // Newest first: the first error seen per sink is the latest one.
  for (const s of summaries) {
    if (!s) continue;
    totals.events++;
    totals.pending += s.outbox.pending;
    totals.deadLetters += s.outbox.deadLetters;
    if (s.outbox.pending > 0) {
      totals.oldestAgeMs = Math.max(totals.oldestAgeMs, s.outbox.oldestAgeMs + (now - s.at));
    }
    for (const name of SINK_NAMES) {
      // A summary published before this sink was registered has no entry for it.
      const from = s.sinks[name] as OutboxSummary["sinks"][SinkName] | undefined;
      if (!from) continue;
      const to = totals.sinks[name];
      to.delivered += from.delivered;
      to.backlog += from.backlog;
      to.deadLetters += from.deadLetters;
      if (from.state === "retrying") to.retryingEvents++;
      if (from.lastError !== null) to.lastErrorClass ??= errorClass(from.lastError);
    }
  }
  return totals;
}
