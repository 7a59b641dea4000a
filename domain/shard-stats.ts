import { perSink, type SinkState } from "./sinks.ts";
import type { EventView, SinkView, StatsView } from "./views.ts";

const WORST: readonly SinkState[] = ["disabled", "retrying", "ok"];

/**
 * A sharded event's stats: the coordinator's view of the event, and the sum of its shards'
 * claims, refusals (plus those the coordinator counted for the edge), outboxes and sinks.
 */
export function sumStats(
  event: EventView,
  parts: readonly StatsView[],
  ownRejected: Record<string, number>,
): StatsView {
  const rejected: Record<string, number> = { ...ownRejected };
  let issued = 0;
  let pending = 0;
  let oldestAgeMs = 0;
  let deadLetters = 0;
  for (const part of parts) {
    issued += part.claims.issued;
    for (const [slug, n] of Object.entries(part.claims.rejected)) {
      rejected[slug] = (rejected[slug] ?? 0) + n;
    }
    pending += part.outbox.pending;
    oldestAgeMs = Math.max(oldestAgeMs, part.outbox.oldestAgeMs);
    deadLetters += part.outbox.deadLetters;
  }
  const sinks = perSink((sink) => sumSink(parts.map((p) => p.sinks[sink])));
  const remaining = Math.max(0, event.released - issued);
  return {
    event: { ...event, issued, remaining },
    claims: { issued, rejected },
    outbox: { pending, oldestAgeMs, deadLetters },
    sinks,
  };
}

function sumSink(views: readonly SinkView[]): SinkView {
  let state: SinkState = "ok";
  const sum: SinkView = {
    state,
    delivered: 0,
    lastError: null,
    lastDeliveredAt: null,
    backlog: 0,
    oldestPendingAgeMs: 0,
    deadLetters: 0,
  };
  for (const v of views) {
    if (WORST.indexOf(v.state) < WORST.indexOf(state)) state = v.state;
    sum.delivered += v.delivered;
    sum.lastError ??= v.lastError;
    if (v.lastDeliveredAt !== null && (sum.lastDeliveredAt ?? "") < v.lastDeliveredAt) {
      sum.lastDeliveredAt = v.lastDeliveredAt;
    }
    sum.backlog += v.backlog;
    sum.oldestPendingAgeMs = Math.max(sum.oldestPendingAgeMs, v.oldestPendingAgeMs);
    sum.deadLetters += v.deadLetters;
  }
  sum.state = state;
  return sum;
}
