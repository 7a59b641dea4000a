import type { RefusalSlug } from "../domain/ledger.ts";
import { perSink, type SinkName } from "../domain/sinks.ts";
import { type EventView, isoOrNull, type SinkView, type StatsView } from "../domain/views.ts";
import type { Sinks } from "../platform/sinks/index.ts";
import type { Outbox } from "./outbox.ts";
import type { SinkStatusStore } from "./sink-status.ts";

/** Refusal counters are written at most this often: a refusal itself never waits for the disk. */
const REJECTIONS_EVERY_MS = 1_000;

/**
 * Refusals by slug: counted in memory, written once a second in one transaction (lost only if
 * the object dies before), so that a refusal writes nothing and waits for no flush.
 */
export class Rejections {
  readonly #sql: SqlStorage;
  readonly #transaction: (fn: () => void) => void;
  /** Refusals counted since the last write of the `rejections` table. */
  readonly #pending = new Map<RefusalSlug, number>();
  #flush: ReturnType<typeof setTimeout> | null = null;

  constructor(sql: SqlStorage, transaction: (fn: () => void) => void) {
    this.#sql = sql;
    this.#transaction = transaction;
  }

  count(slug: RefusalSlug, n = 1): void {
    this.#pending.set(slug, (this.#pending.get(slug) ?? 0) + n);
    this.#flush ??= setTimeout(() => this.#write(), REJECTIONS_EVERY_MS);
  }

  /** Every refusal so far: written and still in memory. */
  totals(): Record<string, number> {
    const rejected: Record<string, number> = {};
    for (const r of this.#sql.exec<{ slug: string; n: number }>("SELECT slug, n FROM rejections")) {
      rejected[r.slug] = r.n;
    }
    for (const [slug, n] of this.#pending) rejected[slug] = (rejected[slug] ?? 0) + n;
    return rejected;
  }

  #write(): void {
    this.#flush = null;
    const counts = [...this.#pending];
    this.#pending.clear();
    this.#transaction(() => {
      for (const [slug, n] of counts) {
        this.#sql.exec(
          "INSERT INTO rejections (slug, n) VALUES (?, ?) ON CONFLICT (slug) DO UPDATE SET n = n + excluded.n",
          slug,
          n,
        );
      }
    });
  }
}

/** The event's figures: its state, claims, the outbox and each sink. */
export function eventStats(opts: {
  event: EventView;
  issued: number;
  rejected: Record<string, number>;
  outbox: Outbox;
  status: SinkStatusStore;
  sinks: Sinks;
  now: number;
}): StatsView {
  const { outbox, now } = opts;
  const pending = outbox.pending();
  const sinks = perSink((sink) => sinkView(opts, sink));
  return {
    event: opts.event,
    claims: { issued: opts.issued, rejected: opts.rejected },
    outbox: {
      pending: pending.pending,
      oldestAgeMs: ageMs(pending.oldestCreatedAt, now),
      deadLetters: Object.values(sinks).reduce((n, sink) => n + sink.deadLetters, 0),
    },
    sinks,
  };
}

function sinkView(
  { outbox, status: statuses, sinks, now }: Parameters<typeof eventStats>[0],
  sink: SinkName,
): SinkView {
  const status = statuses.get(sink);
  const backlog = outbox.backlog(sink);
  const enabled = sinks[sink] !== null;
  const retries = (outbox.nextDue(sink) ?? 0) > now;
  return {
    state: !enabled ? "disabled" : status.failures > 0 || retries ? "retrying" : "ok",
    delivered: status.delivered,
    lastError: status.lastError,
    lastDeliveredAt: isoOrNull(status.lastDeliveredAt),
    backlog: enabled ? backlog.pending : 0,
    oldestPendingAgeMs: enabled ? ageMs(backlog.oldestCreatedAt, now) : 0,
    deadLetters: outbox.deadLetterCount(sink),
  };
}

function ageMs(since: number | null, now: number): number {
  return since === null ? 0 : Math.max(0, now - since);
}
