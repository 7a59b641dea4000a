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
  /** How long one alarm may keep delivering before it hands over to the next alarm. */
  stepBudgetMs: number;
}

export interface DrainContext {
  outbox: Outbox;
  status: SinkStatusStore;
  sinks: Sinks;
  event: EventDefinition;
  policy: DrainPolicy;
  /** Runs every storage update of one drain step atomically (no await inside). */
  transaction: (fn: () => void) => void;
  /** Test seam: runs after a sink answered and before the outbox records it. */
  afterDelivery?: () => Promise<void>;
}

type Outcome = { ok: true; report: DeliveryReport } | { ok: false; error: unknown };

/**
 * One drain step: each sink works through its due batches on its own, concurrently, so a slow or
 * failing sink holds back nothing of the other's. Each batch's outcome is recorded in a
 * transaction as soon as it is known. Returns when the next step is due (epoch ms), or null when
 * nothing is left. Never throws for a sink failure: that only moves the sink's retry time.
 */
export async function drainStep(ctx: DrainContext): Promise<number | null> {
  const deadline = Date.now() + ctx.policy.stepBudgetMs;
  await Promise.all(SINK_NAMES.map((sink) => drainSink(ctx, sink, deadline)));
  // Rows every configured sink has are done (all of them when no sink is configured).
  ctx.transaction(() =>
    ctx.outbox.prune({ mysql: ctx.sinks.mysql !== null, kafka: ctx.sinks.kafka !== null }),
  );
  return nextStepAt(ctx, Date.now());
}

/** Delivers `sink`'s due batches while they come full, until it fails or time is up. */
async function drainSink(ctx: DrainContext, sink: SinkName, deadline: number): Promise<void> {
  const target = ctx.sinks[sink];
  if (!target) return;
  while (Date.now() < deadline) {
    const now = Date.now();
    if (ctx.status.get(sink).retryAt > now) return;
    // Read whole before any await: claims keep appending while this batch is in flight.
    const batch = ctx.outbox.due(sink, now, ctx.policy.batchSize);
    if (batch.length === 0) return;
    const outcome: Outcome = await target.deliver(batch, ctx.event).then(
      (report) => ({ ok: true, report }),
      (error: unknown) => ({ ok: false, error }),
    );
    await ctx.afterDelivery?.();
    record(ctx, sink, outcome);
    // After a partial batch, let rows gather until the next alarm: fewer, fuller requests.
    if (!outcome.ok || batch.length < ctx.policy.batchSize) return;
  }
}

function record(ctx: DrainContext, sink: SinkName, outcome: Outcome): void {
  const done = Date.now();
  const { retryBaseMs, retryMaxMs, maxAttempts } = ctx.policy;
  const later = (failures: number) => done + backoffMs(failures, retryBaseMs, retryMaxMs);
  ctx.transaction(() => {
    if (!outcome.ok) {
      ctx.status.failed(sink, errorText(outcome.error), later);
      return;
    }
    const { delivered, rejected } = outcome.report;
    ctx.outbox.markDelivered(sink, delivered);
    ctx.outbox.markRejected(sink, rejected, { now: done, maxAttempts, retryAt: later });
    ctx.status.succeeded(sink, delivered.length, done, rejected[0]?.error ?? null);
  });
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
