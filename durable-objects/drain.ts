import type { Clock } from "../domain/clock.ts";
import { backoffMs, type DrainPolicy } from "../domain/drain-policy.ts";
import type { EventDefinition } from "../domain/ledger.ts";
import {
  type DeliveryReport,
  type OutboxItem,
  SINK_NAMES,
  type Sink,
  type SinkName,
} from "../domain/sinks.ts";
import type { Sinks } from "../platform/sinks/index.ts";
import type { Outbox, StepReads } from "./outbox.ts";
import type { SinkStatusStore } from "./sink-status.ts";

export interface DrainContext {
  outbox: Outbox;
  status: SinkStatusStore;
  /** Each registered sink, null where it is disabled. */
  sinks: Sinks;
  event: EventDefinition;
  policy: DrainPolicy;
  /** Every time the drain reads or stores (retry times, backoff, the step budget) is this clock's. */
  clock: Clock;
  /** Runs every storage update of one drain step atomically (no await inside). */
  transaction: (fn: () => void) => void;
  /** Test seam: runs after a sink answered and before the outbox records it. */
  afterDelivery?: () => Promise<void>;
}

type Outcome = { ok: true; report: DeliveryReport } | { ok: false; error: unknown };

/**
 * One drain step: each enabled sink works through its due batches on its own, concurrently, so a
 * slow or failing sink holds back nothing of the others'. Each batch's outcome is recorded in a
 * transaction as soon as it is known. Returns when the next step is due (the clock's epoch ms),
 * or null when nothing is left. Never throws for a sink failure: that only moves the sink's retry
 * time.
 */
export async function drainStep(ctx: DrainContext): Promise<number | null> {
  const deadline = ctx.clock.now() + ctx.policy.stepBudgetMs;
  const enabled = SINK_NAMES.filter((sink) => ctx.sinks[sink] !== null);
  // The seqs this step delivered or parked: the only rows that can have become prunable.
  const touched: number[] = [];
  // Sinks at the same place in the logs share one read of each record.
  const reads = ctx.outbox.reads(enabled.length);
  await Promise.all(
    enabled.map((sink) => drainSink(ctx, sink, ctx.sinks[sink] as Sink, deadline, touched, reads)),
  );
  // Rows every enabled sink has are done (all of them when no sink is enabled).
  ctx.transaction(() => ctx.outbox.prune(enabled, touched));
  return nextStepAt(ctx, enabled, ctx.clock.now());
}

/** Delivers `sink`'s due batches while they come full, until it fails or time is up. */
async function drainSink(
  ctx: DrainContext,
  sink: SinkName,
  target: Sink,
  deadline: number,
  touched: number[],
  reads: StepReads,
): Promise<void> {
  while (ctx.clock.now() < deadline) {
    const now = ctx.clock.now();
    if (ctx.status.get(sink).retryAt > now) return;
    // Read whole before any await: claims keep appending while this batch is in flight.
    const batch = ctx.outbox.due(sink, now, ctx.policy.batchSize, ctx.event.id, reads);
    if (batch.length === 0) return;
    const outcome: Outcome = await target.deliver(batch, ctx.event).then(
      (report) => ({ ok: true, report }),
      (error: unknown) => ({ ok: false, error }),
    );
    await ctx.afterDelivery?.();
    touched.push(...record(ctx, sink, batch, outcome));
    // After a partial batch, let rows gather until the next alarm: fewer, fuller requests.
    if (!outcome.ok || batch.length < ctx.policy.batchSize) return;
  }
}

/** Stores a batch's outcome; returns the outbox seqs the sink no longer owes. */
function record(
  ctx: DrainContext,
  sink: SinkName,
  batch: readonly OutboxItem[],
  outcome: Outcome,
): number[] {
  const done = ctx.clock.now();
  const { retryBaseMs, retryMaxMs, maxAttempts } = ctx.policy;
  const later = (failures: number) => done + backoffMs(failures, retryBaseMs, retryMaxMs);
  let settled: number[] = [];
  ctx.transaction(() => {
    if (!outcome.ok) {
      ctx.status.failed(sink, errorText(outcome.error), later);
      return;
    }
    const { delivered, rejected } = outcome.report;
    settled = ctx.outbox.settle(sink, batch, outcome.report, {
      now: done,
      maxAttempts,
      retryAt: later,
    });
    ctx.status.succeeded(sink, delivered.length, done, rejected[0]?.error ?? null);
  });
  return settled;
}

/** The earliest time an enabled sink that owes rows may be tried again (never in the past). */
function nextStepAt(ctx: DrainContext, enabled: readonly SinkName[], now: number): number | null {
  let next: number | null = null;
  for (const sink of enabled) {
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
