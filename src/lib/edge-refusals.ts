import { certainRefusal } from "../../domain/edge-refusal.ts";
import type { Refusal, RefusalSlug } from "../../domain/ledger.ts";
import type { Entry } from "./event-snapshots.ts";
import type { WaitUntil } from "./wait-until.ts";

/** Edge refusals are handed to the object (for its stats) at most this often per event. */
const REPORT_MS = 1_000;

/** Hands counts of refusals to the event's object (`countRefusals`). */
export type ReportRefusals = (
  eventId: string,
  counts: Partial<Record<RefusalSlug, number>>,
) => Promise<unknown>;

interface Pending {
  counts: Map<RefusalSlug, number>;
  /** A report of these counts is scheduled on some request's `waitUntil`. */
  scheduled: boolean;
}

/**
 * The edge's refusal rule (domain/edge-refusal.ts: only what the object would certainly refuse)
 * and the tally of what it refused, per event, handed to the object at most every REPORT_MS so
 * the event's stats count them. Keyed only by events the isolate has a snapshot of.
 */
export class EdgeRefusals {
  readonly #pending = new Map<string, Pending>();
  readonly #report: ReportRefusals;

  constructor(report: ReportRefusals) {
    this.#report = report;
  }

  /**
   * The refusal the snapshot makes certain for this user (counted), or null: ask the object.
   * `holders`: the user's shard's, for a sharded event (docs/shards.md).
   */
  refuse(
    eventId: string,
    entry: Entry,
    userId: string,
    now: number,
    waitUntil?: WaitUntil,
    holders: { mightHold(userId: string): boolean } | null = entry.holders,
  ): Refusal | null {
    const refusal = certainRefusal(entry.snapshot.def, entry.snapshot, holders, userId, now);
    if (refusal) this.count(eventId, refusal.slug, waitUntil);
    return refusal;
  }

  /** Best effort: counts that cannot be handed over now are kept for the next report. */
  async report(eventId: string): Promise<void> {
    const pending = this.#pending.get(eventId);
    if (!pending) return;
    this.#pending.delete(eventId);
    try {
      await this.#report(eventId, Object.fromEntries(pending.counts));
    } catch {
      const now = this.#pending.get(eventId) ?? { counts: new Map(), scheduled: false };
      for (const [slug, n] of pending.counts) now.counts.set(slug, (now.counts.get(slug) ?? 0) + n);
      this.#pending.set(eventId, now);
    }
  }

  /** Counts a refusal the edge answered, for the object's stats (reported in batches). */
  count(eventId: string, slug: RefusalSlug, waitUntil?: WaitUntil): void {
    let pending = this.#pending.get(eventId);
    if (!pending) {
      pending = { counts: new Map(), scheduled: false };
      this.#pending.set(eventId, pending);
    }
    if (!pending.scheduled && waitUntil) {
      // The first refusal of a period schedules the report; later ones only count.
      pending.scheduled = true;
      waitUntil(
        new Promise((done) => setTimeout(done, REPORT_MS)).then(() => this.report(eventId)),
      );
    }
    pending.counts.set(slug, (pending.counts.get(slug) ?? 0) + 1);
  }
}
