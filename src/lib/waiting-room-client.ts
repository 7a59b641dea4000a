import { type QueueStatus, queueStatus, type RoomTable } from "../../domain/admission.ts";
import { drawValue, PREFIX_CHARS, placeInTable } from "../../domain/draw.ts";
import { type Refusal, secondsUntil, stateOf } from "../../domain/ledger.ts";
import type { EventStub } from "./event-objects.ts";
import type { Entry } from "./event-snapshots.ts";
import { CALL_TIMEOUT_MS } from "./object-call.ts";
import { pollUntil } from "./poll-until.ts";
import type { WaitUntil } from "./wait-until.ts";

/** Joins are handed to the event's object at most this often per event and isolate. */
export const JOIN_REPORT_MS = 1_000;
/** At most this many joins per report (the object's MAX_JOIN_REPORT). */
const REPORT_CHUNK = 5_000;
/** Tickets this isolate handed out lately, so a repeated join answers 200 with the same one. */
const MAX_RECENT = 50_000;
/** Draw tables kept per isolate (one per event with a drawn room). */
const MAX_TABLES = 16;

type Call = <T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>) => Promise<T>;

export type JoinAnswer =
  | { outcome: "joined"; created: boolean; ticket: string; joinedAt: number }
  | { outcome: "refused"; refusal: Refusal };

interface Table {
  early: string;
  earlyCount: number;
  /** Late joiners' draw-value prefixes → index among the late joiners. */
  late: Map<string, number>;
  lateCount: number;
}

interface Pending {
  joins: Map<string, number>;
  scheduled: boolean;
}

/** Every room client of this isolate, so a test (or stats) can hand their joins over at once. */
const clients = new Set<RoomClient>();

/**
 * The waiting room at the edge: joins and status answered in the isolate, never one object call
 * per request. A join is a signed ticket (queue-ticket.ts) plus a count in memory, reported to
 * the object in batches (as edge refusals are); a status is the ticket's user placed with the
 * draw table (fetched once per isolate after the draw, and again only when late joiners came)
 * against the admission frontier of the event's snapshot.
 */
export class RoomClient {
  readonly #call: Call;
  readonly #pending = new Map<string, Pending>();
  readonly #recent = new Map<string, { ticket: string; joinedAt: number }>();
  readonly #tables = new Map<string, Table>();
  readonly #fetching = new Map<string, object>();

  constructor(call: Call) {
    this.#call = call;
    clients.add(this);
  }

  /**
   * Lets the user in from `opensAt` with a ticket. A user who shows its ticket, or joined through
   * this isolate lately, gets the same ticket back (200); its place never depends on which.
   */
  async join(
    eventId: string,
    entry: Entry,
    userId: string,
    opts: {
      now: number;
      presented: { ticket: string; joinedAt: number } | null;
      sign: (joinedAt: number) => Promise<string>;
      waitUntil?: WaitUntil;
    },
  ): Promise<JoinAnswer> {
    const { def } = entry.snapshot;
    const rules = def.queue;
    if (!rules) throw new Error("join on an event without a room");
    const { now } = opts;
    if (now < rules.opensAt) {
      return {
        outcome: "refused",
        refusal: { slug: "not-started", retryAfter: secondsUntil(rules.opensAt, now) },
      };
    }
    const state = stateOf(def, entry.snapshot, now);
    if (state === "ended" || state === "sold-out")
      return { outcome: "refused", refusal: { slug: state } };
    const key = `${eventId}\n${userId}`;
    const earlier = opts.presented ?? this.#recent.get(key);
    if (earlier) {
      this.#remember(key, earlier);
      return { outcome: "joined", created: false, ...earlier };
    }
    const ticket = await opts.sign(now);
    this.#remember(key, { ticket, joinedAt: now });
    this.#queueReport(eventId, userId, now, opts.waitUntil);
    return { outcome: "joined", created: true, ticket, joinedAt: now };
  }

  /** The user's status from the snapshot and its place; the object is asked only for the table. */
  async status(
    eventId: string,
    entry: Entry,
    userId: string,
    now: number,
  ): Promise<{ status: QueueStatus; retryAfter: number | null }> {
    const { def } = entry.snapshot;
    const rules = def.queue;
    const room = entry.snapshot.room;
    if (!rules || !room) throw new Error("status on an event without a room");
    const place = await this.#placeOf(eventId, entry, userId);
    return queueStatus({ def, rules, counters: entry.snapshot, room, place, userId, now });
  }

  /**
   * The edge's half of a claim on a room event: refused (`queued`) when this user is certainly
   * not admitted (no valid ticket, or a place the frontier has not reached); else the object
   * decides, as it always does (a lapsed admission may still be a holder's).
   */
  async gate(
    eventId: string,
    entry: Entry,
    userId: string,
    hasTicket: boolean,
    now: number,
  ): Promise<Refusal | null> {
    const room = entry.snapshot.room;
    if (!hasTicket || !room) {
      // A holder the edge knows of (the final holders, once sold out or ended) gets its coupon
      // back from the object; anyone else without a ticket never reaches it.
      return entry.holders?.mightHold(userId) ? null : { slug: "queued", retryAfter: 5 };
    }
    const { status, retryAfter } = await this.status(eventId, entry, userId, now);
    if (status.position !== null && status.position <= room.admittedThrough) return null;
    if (status.state === "sold-out" || status.state === "ended") return null; // the object says so
    return { slug: "queued", retryAfter: retryAfter ?? 5 };
  }

  /** Hands this isolate's pending joins of the event to its object (best effort, kept on failure). */
  async flush(eventId: string): Promise<void> {
    const pending = this.#pending.get(eventId);
    if (!pending || pending.joins.size === 0) return;
    this.#pending.delete(eventId);
    const joins = [...pending.joins];
    for (let i = 0; i < joins.length; i += REPORT_CHUNK) {
      const chunk = joins.slice(i, i + REPORT_CHUNK);
      try {
        await this.#call(eventId, (o) => o.reportJoins(chunk));
      } catch {
        for (const [userId, joinedAt] of joins.slice(i))
          this.#queueReport(eventId, userId, joinedAt);
        return;
      }
    }
  }

  #queueReport(eventId: string, userId: string, joinedAt: number, waitUntil?: WaitUntil): void {
    let pending = this.#pending.get(eventId);
    if (!pending) {
      pending = { joins: new Map(), scheduled: false };
      this.#pending.set(eventId, pending);
    }
    if (!pending.joins.has(userId)) pending.joins.set(userId, joinedAt);
    if (!pending.scheduled && waitUntil) {
      // The first join of a period schedules the report; later ones only count.
      pending.scheduled = true;
      waitUntil(
        new Promise((done) => setTimeout(done, JOIN_REPORT_MS)).then(() => this.flush(eventId)),
      );
    }
  }

  #remember(key: string, ticket: { ticket: string; joinedAt: number }): void {
    this.#recent.delete(key);
    if (this.#recent.size >= MAX_RECENT) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    this.#recent.set(key, ticket);
  }

  /** The user's place from the draw table, or null (not drawn yet, or its join not reported yet). */
  async #placeOf(eventId: string, entry: Entry, userId: string): Promise<number | null> {
    const room = entry.snapshot.room;
    if (!room?.drawn || room.seed === null) return null;
    const prefix = drawValue(room.seed, userId).slice(0, PREFIX_CHARS);
    let table = this.#tables.get(eventId);
    let place = table ? await this.#lookup(eventId, table, prefix, userId) : null;
    if (place === null && (!table || table.lateCount < room.late)) {
      table = await this.#refresh(eventId, table);
      place = table ? await this.#lookup(eventId, table, prefix, userId) : null;
    }
    return place;
  }

  async #lookup(
    eventId: string,
    table: Table,
    prefix: string,
    userId: string,
  ): Promise<number | null> {
    const early = placeInTable(table.early, prefix);
    if (early?.unique) return early.place;
    // Two joiners share the prefix (odds about n²/2^65): only the object can order them.
    if (early) return this.#call(eventId, (o) => o.roomPlace(userId));
    const late = table.late.get(prefix);
    return late === undefined ? null : table.earlyCount + late + 1;
  }

  /** One fetch per event at a time; the others wait on their own timers, then use its table. */
  async #refresh(eventId: string, known: Table | undefined): Promise<Table | undefined> {
    const running = this.#fetching.get(eventId);
    if (running) {
      const over = await pollUntil(() => this.#fetching.get(eventId) !== running, CALL_TIMEOUT_MS);
      if (over) return this.#tables.get(eventId);
      this.#fetching.delete(eventId);
    }
    const mine = {};
    this.#fetching.set(eventId, mine);
    try {
      const from = known?.lateCount ?? 0;
      const fetched = await this.#call<RoomTable | null>(eventId, (o) => o.roomTable(from));
      if (!fetched) return known;
      // The early part never changes once drawn: later fetches bring only new late joiners.
      const table: Table = known ?? {
        early: fetched.early,
        earlyCount: fetched.early.length / PREFIX_CHARS,
        late: new Map(),
        lateCount: 0,
      };
      fetched.late.forEach((prefix, i) => {
        if (!table.late.has(prefix)) table.late.set(prefix, from + i);
      });
      table.lateCount = from + fetched.late.length;
      this.#tables.delete(eventId);
      if (this.#tables.size >= MAX_TABLES) {
        const oldest = this.#tables.keys().next().value;
        if (oldest !== undefined) this.#tables.delete(oldest);
      }
      this.#tables.set(eventId, table);
      return table;
    } finally {
      if (this.#fetching.get(eventId) === mine) this.#fetching.delete(eventId);
    }
  }
}

/** Hands every pending join of the event, in every room client of this isolate, to its object. */
export async function flushJoinReports(eventId: string): Promise<void> {
  await Promise.all([...clients].map((client) => client.flush(eventId)));
}
