import type { Sinks } from "../src/sinks/index.ts";
import type { DeliveryReport, SinkName } from "../src/sinks/types.ts";
import { backoffMs } from "./backoff.ts";
import type { EventDefinition } from "./ledger.ts";
import { type Outbox, SINK_NAMES } from "./outbox.ts";
import type { SinkStatusStore } from "./sink-status.ts";

export interface DrainPolicy {
  batchSize: number;
  /** Refusals of one record before it is dead-lettered. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface DrainContext {
  outbox: Outbox;
  status: SinkStatusStore;
  sinks: Sinks;
  event: EventDefinition;
  policy: DrainPolicy;
  /** Runs every storage update of one drain step atomically (no await inside). */
  transaction: (fn: () => void) => void;
  /** Test seam: runs after the sinks answered and before the outbox records it. */
  afterDelivery?: () => Promise<void>;
}

type Attempt = { sink: SinkName; outcome: PromiseSettledResult<DeliveryReport> };

/**
 * One drain step: the due batch of every sink goes out in parallel, then the outcome is recorded
 * in one transaction. Returns when the next step is due (epoch ms), or null when nothing is left.
 * Never throws for a sink failure: that only moves the sink's retry time.
 */
export async function drainStep(ctx: DrainContext): Promise<number | null> {
  const now = Date.now();
  const attempts: Promise<Attempt>[] = [];
  for (const sink of SINK_NAMES) {
    const target = ctx.sinks[sink];
    if (!target || ctx.status.get(sink).retryAt > now) continue;
    // Read whole before any await: claims keep appending while this batch is in flight.
    const batch = ctx.outbox.due(sink, now, ctx.policy.batchSize);
    if (batch.length === 0) continue;
    attempts.push(
      target.deliver(batch, ctx.event).then(
        (report): Attempt => ({ sink, outcome: { status: "fulfilled", value: report } }),
        (reason: unknown): Attempt => ({ sink, outcome: { status: "rejected", reason } }),
      ),
    );
  }
  const results = await Promise.all(attempts);
  await ctx.afterDelivery?.();

  const done = Date.now();
  const { retryBaseMs, retryMaxMs, maxAttempts } = ctx.policy;
  const later = (failures: number) => done + backoffMs(failures, retryBaseMs, retryMaxMs);
  const enabled = { mysql: ctx.sinks.mysql !== null, kafka: ctx.sinks.kafka !== null };
  ctx.transaction(() => {
    for (const { sink, outcome } of results) {
      if (outcome.status === "rejected") {
        ctx.status.failed(sink, errorText(outcome.reason), later);
        continue;
      }
      const { delivered, rejected } = outcome.value;
      ctx.outbox.markDelivered(sink, delivered);
      ctx.outbox.markRejected(sink, rejected, { now: done, maxAttempts, retryAt: later });
      ctx.status.succeeded(sink, delivered.length, done, rejected[0]?.error ?? null);
    }
    ctx.outbox.prune(enabled);
  });
  return nextStepAt(ctx, done);
}

/** The earliest time a sink with pending rows may be tried again (never in the past). */
function nextStepAt(ctx: DrainContext, now: number): number | null {
  let next: number | null = null;
  for (const sink of SINK_NAMES) {
    if (!ctx.sinks[sink]) continue;
    const due = ctx.outbox.nextDue(sink);
    if (due === null) continue;
    const at = Math.max(due, ctx.status.get(sink).retryAt, now);
    next = next === null ? at : Math.min(next, at);
  }
  return next;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
