import { type HoldersFilter, HoldersSet } from "../../domain/holders-filter.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import type { EventCounters, EventSnapshot } from "../../domain/views.ts";

/** Real events kept per isolate; the least recently used goes first. */
export const MAX_EVENTS = 1_000;
/**
 * What the kept events may weigh together (definitions and holders filters, estimated): a filter
 * is up to 1 MiB, a definition up to 1,000 waves, and an isolate has 128 MB in all.
 */
export const MAX_EVENT_BYTES = 24 * 1024 * 1024;
/** Ids the directory does not know, kept apart so that they never push a real event out. */
export const MAX_UNKNOWN = 256;
/** An id the directory does not know is asked about again after this long. */
export const UNKNOWN_TTL_MS = 1_000;

/** A real event as this isolate knows it. */
export interface Entry {
  snapshot: EventSnapshot;
  /** The holders once they are final (sold out or ended); null until the object sends them. */
  holders: HoldersSet | null;
  /** A claim asking the object for the holders is on its way (one at a time per isolate). */
  askingHolders: boolean;
  /** A request is refreshing this snapshot behind its answer (one at a time per isolate). */
  refreshing: boolean;
  /** Estimated bytes of the definition and the holders filter (see MAX_EVENT_BYTES). */
  bytes: number;
}

/**
 * The isolate's snapshots of events, bounded by design: real events in a map evicted by use
 * (least recently used first, by count and by estimated bytes), ids nobody created in a small
 * separate map of their own (oldest first, each remembered UNKNOWN_TTL_MS). A flood of random
 * ids only churns the latter, so the busy event's snapshot and holders filter stay.
 */
export class EventSnapshots {
  /** Insertion order is use order: a use moves the entry to the end. */
  readonly #events = new Map<string, Entry>();
  /** Unknown id → when the directory said so. */
  readonly #unknown = new Map<string, number>();
  #bytes = 0;

  /** The event's entry, marked as just used. */
  use(eventId: string): Entry | undefined {
    const entry = this.#events.get(eventId);
    if (entry && this.#events.size > 1) {
      this.#events.delete(eventId);
      this.#events.set(eventId, entry);
    }
    return entry;
  }

  /** The event's entry without marking it used (bookkeeping, not traffic). */
  peek(eventId: string): Entry | undefined {
    return this.#events.get(eventId);
  }

  /** Whether this isolate holds a snapshot of the event: it exists (as far as the edge knows). */
  knows(eventId: string): boolean {
    return this.#events.has(eventId);
  }

  /** True while the directory's "unknown" for this id is fresh. */
  isUnknown(eventId: string, now: number): boolean {
    const checkedAt = this.#unknown.get(eventId);
    if (checkedAt === undefined) return false;
    if (now - checkedAt <= UNKNOWN_TTL_MS) return true;
    this.#unknown.delete(eventId);
    return false;
  }

  /** The directory does not know the id (as of `now`): any snapshot of it goes. */
  markUnknown(eventId: string, now: number): void {
    this.#drop(eventId);
    this.#unknown.delete(eventId);
    if (this.#unknown.size >= MAX_UNKNOWN) {
      const oldest = this.#unknown.keys().next().value;
      if (oldest !== undefined) this.#unknown.delete(oldest);
    }
    this.#unknown.set(eventId, now);
  }

  /** Keeps the newest counters (by version), the definition, and the holders once sent. */
  update(
    eventId: string,
    counters: EventCounters,
    holders?: HoldersFilter | null,
    def?: EventDefinition,
  ): void {
    const entry = this.#events.get(eventId);
    if (!entry) {
      if (!def) return; // counters of an event whose definition this isolate never saw
      const set = holders ? new HoldersSet(holders) : null;
      this.#unknown.delete(eventId);
      this.#add(eventId, {
        snapshot: { def, ...pick(counters), holders: null },
        holders: set,
        askingHolders: false,
        refreshing: false,
        bytes: defBytes(def) + (set?.bytes ?? 0),
      });
      return;
    }
    const current = entry.snapshot;
    if (counters.version > current.version) {
      entry.snapshot = { def: def ?? current.def, ...pick(counters), holders: null };
    } else if (counters.version === current.version && counters.asOf > current.asOf) {
      current.asOf = counters.asOf;
    }
    if (holders && !entry.holders) {
      entry.holders = new HoldersSet(holders);
      entry.bytes += entry.holders.bytes;
      this.#bytes += entry.holders.bytes;
      this.#evict(eventId);
    }
  }

  /** How many events and unknown ids are kept, and their estimated bytes (tests, the soak). */
  get size(): { events: number; unknown: number; bytes: number } {
    return { events: this.#events.size, unknown: this.#unknown.size, bytes: this.#bytes };
  }

  #add(eventId: string, entry: Entry): void {
    this.#events.set(eventId, entry);
    this.#bytes += entry.bytes;
    this.#evict(eventId);
  }

  /** Least recently used first, never `keep` (the entry being written). */
  #evict(keep: string): void {
    for (const id of this.#events.keys()) {
      if (this.#events.size <= MAX_EVENTS && this.#bytes <= MAX_EVENT_BYTES) return;
      if (id !== keep) this.#drop(id);
    }
  }

  #drop(eventId: string): void {
    const entry = this.#events.get(eventId);
    if (!entry) return;
    this.#events.delete(eventId);
    this.#bytes -= entry.bytes;
  }
}

/** A definition's weight in memory, roughly: its fields, its name, its waves. */
function defBytes(def: EventDefinition): number {
  return 512 + def.name.length * 2 + def.waves.length * 96;
}

function pick(c: EventCounters): EventCounters {
  const picked: EventCounters = {
    version: c.version,
    issued: c.issued,
    paused: c.paused,
    asOf: c.asOf,
  };
  if (c.room) picked.room = c.room;
  return picked;
}
