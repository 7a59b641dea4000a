import type { JoinReport, RoomTable } from "../domain/admission.ts";
import { DRAW_GRACE_MS, placesToAdmit, type RoomState } from "../domain/admission.ts";
import { drawOrder, drawTable, newSeed, seedCommitment } from "../domain/draw.ts";
import type { EventDefinition, LedgerCounters, QueueRules, Refusal } from "../domain/ledger.ts";

export type { JoinReport, RoomTable };

/** The admission rate is measured over this window. */
const RATE_WINDOW_MS = 60_000;
/** A join report carries at most this many joins. */
export const MAX_JOIN_REPORT = 5_000;

/**
 * An event's waiting room inside its object: the seed, the joiners the edge reported, the draw,
 * and the admissions. Its tables are created here (not in storage-schema.ts) so that the room
 * stays in files of its own; an event without a room writes nothing to them.
 *
 * Places: 1..early by the draw (everyone reported as joined before `startsAt`), then late joiners
 * in the order their reports arrived. Admissions move a frontier (`admittedThrough`) in steps;
 * a step's places lapse `admitSeconds` after it, used or not, and the count of admitted users
 * who have not claimed yet never exceeds what the released stock can serve plus the margin.
 */
export class WaitingRoom {
  readonly #sql: SqlStorage;
  #seed = "";
  #commitment = "";
  #drawn = false;
  #early = 0;
  /** User ids by place - 1, once drawn. */
  #order: string[] = [];
  readonly #places = new Map<string, number>();
  /** Places whose user holds a coupon. */
  readonly #claimed = new Set<number>();
  #joined = 0;
  #admittedThrough = 0;
  #lapsedThrough = 0;
  /** Places up to `#lapsedThrough` whose user never claimed: kept as the frontier moves. */
  #lapsed = 0;
  #steps: [number, number][] = [];
  /** Every step of the last RATE_WINDOW_MS (memory only: a restart only resets the measure). */
  #recent: [number, number][] = [];
  #changes = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS room (
      singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
      seed TEXT NOT NULL,
      drawn INTEGER NOT NULL DEFAULT 0,
      early INTEGER NOT NULL DEFAULT 0,
      admitted_through INTEGER NOT NULL DEFAULT 0,
      lapsed_through INTEGER NOT NULL DEFAULT 0,
      changes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS room_joiners (
      user_id TEXT PRIMARY KEY,
      joined_at INTEGER NOT NULL,
      place INTEGER UNIQUE
    );
    CREATE TABLE IF NOT EXISTS room_steps (through INTEGER PRIMARY KEY, at INTEGER NOT NULL);`);
    this.#load();
  }

  /** The event was just created with a room: its seed is fixed now, before anyone can join. */
  create(): void {
    const seed = newSeed();
    this.#sql.exec("INSERT INTO room (singleton, seed) VALUES (1, ?)", seed);
    this.#seed = seed;
    this.#commitment = seedCommitment(seed);
  }

  /** Joins reported by an isolate; a user already known keeps its first join and its place. */
  report(joins: JoinReport[]): void {
    let added = 0;
    for (const [userId, joinedAt] of joins) {
      if (this.#places.has(userId)) continue;
      const fresh = this.#sql
        .exec(
          "INSERT INTO room_joiners (user_id, joined_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1",
          userId,
          joinedAt,
        )
        .toArray();
      if (fresh.length === 0) continue;
      added += 1;
      if (this.#drawn) this.#place(userId, this.#order.length + 1);
    }
    if (added === 0) return;
    this.#joined += added;
    this.#changed();
  }

  /**
   * Draws when due, lapses what ran out, and admits what the stock can serve. Called on every call
   * the object gets and by its alarm; true when the room changed (publish the snapshot).
   */
  advance(def: EventDefinition, counters: LedgerCounters, now: number): boolean {
    const rules = def.queue;
    if (!rules) return false;
    const before = this.#changes;
    if (!this.#drawn && now >= def.startsAt + DRAW_GRACE_MS) this.#draw(def);
    if (!this.#drawn) return false;
    this.#lapse(rules, now);
    const outstanding = this.#outstanding();
    const admit = placesToAdmit(
      def,
      rules,
      counters,
      outstanding,
      this.#order.length - this.#admittedThrough,
      now,
    );
    if (admit > 0) {
      this.#admittedThrough += admit;
      this.#steps.push([this.#admittedThrough, now]);
      this.#recent.push([this.#admittedThrough, now]);
      this.#sql.exec(
        "INSERT INTO room_steps (through, at) VALUES (?, ?)",
        this.#admittedThrough,
        now,
      );
      this.#sql.exec("UPDATE room SET admitted_through = ?", this.#admittedThrough);
      this.#changed();
    }
    return this.#changes !== before;
  }

  /** Null when this user may claim now (admitted, not lapsed, not used), else `queued`. */
  admission(userId: string, rules: QueueRules, now: number): Refusal | null {
    const place = this.#places.get(userId);
    if (place !== undefined && place > this.#lapsedThrough && place <= this.#admittedThrough) {
      if (!this.#claimed.has(place)) return null;
    }
    const ahead = place === undefined ? null : place - this.#admittedThrough;
    const rate = this.#rate(now);
    const wait = ahead !== null && ahead > 0 && rate ? Math.ceil(ahead / rate) : rules.admitSeconds;
    return { slug: "queued", retryAfter: Math.max(1, Math.min(30, wait)) };
  }

  /** These users now hold coupons: their places are used. */
  issued(userIds: readonly string[]): void {
    for (const userId of userIds) {
      const place = this.#places.get(userId);
      if (place === undefined || this.#claimed.has(place)) continue;
      this.#claimed.add(place);
      if (place <= this.#lapsedThrough) this.#lapsed -= 1;
    }
  }

  /** When the room next needs the object's attention (the draw, the next lapse), or null. */
  nextDue(def: EventDefinition): number | null {
    const rules = def.queue;
    if (!rules) return null;
    if (!this.#drawn) return def.startsAt + DRAW_GRACE_MS;
    const first = this.#steps[0];
    return first ? first[1] + rules.admitSeconds * 1000 : null;
  }

  state(def: EventDefinition, now: number): RoomState {
    return {
      commitment: this.#commitment,
      // The seed stays secret until the start: nothing before it (answer, snapshot, log) has it.
      seed: now >= def.startsAt ? this.#seed : null,
      joined: this.#joined,
      drawn: this.#drawn,
      early: this.#early,
      late: this.#order.length - this.#early,
      admittedThrough: this.#admittedThrough,
      lapsedThrough: this.#lapsedThrough,
      lapsed: this.#lapsed,
      steps: this.#steps.map(([through, at]) => ({ through, at })),
      ratePerSecond: this.#rate(now),
      changes: this.#changes,
    };
  }

  /** The table the edge places users with; null before the draw. */
  table(lateFrom: number): RoomTable | null {
    if (!this.#drawn) return null;
    const early = drawTable(this.#seed, this.#order.slice(0, this.#early));
    const late = this.#order.slice(this.#early + Math.max(0, lateFrom));
    return { early, late: drawTable(this.#seed, late).match(/.{16}/g) ?? [] };
  }

  /** A user's place (null: not known), for the rare case the edge's table cannot tell. */
  placeOf(userId: string): number | null {
    return this.#places.get(userId) ?? null;
  }

  /** Once, at startsAt + DRAW_GRACE_MS: the early joiners by the draw, then the rest by arrival. */
  #draw(def: EventDefinition): void {
    const rows = this.#sql
      .exec<{ user_id: string; joined_at: number }>(
        "SELECT user_id, joined_at FROM room_joiners ORDER BY rowid",
      )
      .toArray();
    const early = rows.filter((r) => r.joined_at < def.startsAt).map((r) => r.user_id);
    const late = rows.filter((r) => r.joined_at >= def.startsAt).map((r) => r.user_id);
    const order = [...drawOrder(this.#seed, early), ...late];
    order.forEach((userId, i) => {
      this.#sql.exec("UPDATE room_joiners SET place = ? WHERE user_id = ?", i + 1, userId);
      this.#places.set(userId, i + 1);
    });
    this.#order = order;
    this.#early = early.length;
    this.#drawn = true;
    this.#sql.exec("UPDATE room SET drawn = 1, early = ?", early.length);
    this.#changed();
  }

  #place(userId: string, place: number): void {
    this.#sql.exec("UPDATE room_joiners SET place = ? WHERE user_id = ?", place, userId);
    this.#order.push(userId);
    this.#places.set(userId, place);
  }

  /** Steps whose time is up are over: their unused places went on. */
  #lapse(rules: QueueRules, now: number): void {
    const ttl = rules.admitSeconds * 1000;
    let lapsed = 0;
    while (
      lapsed < this.#steps.length &&
      (this.#steps[lapsed] as [number, number])[1] + ttl <= now
    ) {
      lapsed += 1;
    }
    if (lapsed === 0) return;
    const through = (this.#steps[lapsed - 1] as [number, number])[0];
    this.#steps = this.#steps.slice(lapsed);
    this.#lapsed += this.#unclaimedIn(this.#lapsedThrough, through);
    this.#lapsedThrough = through;
    this.#sql.exec("DELETE FROM room_steps WHERE through <= ?", through);
    this.#sql.exec("UPDATE room SET lapsed_through = ?", through);
    this.#changed();
  }

  /** Places in (after, through] whose user has not claimed. */
  #unclaimedIn(after: number, through: number): number {
    let n = 0;
    for (let place = after + 1; place <= through; place++) {
      if (!this.#claimed.has(place)) n += 1;
    }
    return n;
  }

  /** Admitted places still running whose user has not claimed. */
  #outstanding(): number {
    return this.#unclaimedIn(this.#lapsedThrough, this.#admittedThrough);
  }

  #rate(now: number): number | null {
    this.#recent = this.#recent.filter(([, at]) => at > now - RATE_WINDOW_MS);
    const first = this.#recent[0];
    const last = this.#recent[this.#recent.length - 1];
    if (!first || !last || first === last) return null;
    const seconds = (last[1] - first[1]) / 1000;
    // Places admitted after the first step of the window, over the time they took.
    return seconds > 0 ? (last[0] - first[0]) / seconds : null;
  }

  #changed(): void {
    this.#changes += 1;
    this.#sql.exec("UPDATE room SET changes = ?", this.#changes);
  }

  #load(): void {
    const room = this.#sql
      .exec<{
        seed: string;
        drawn: number;
        early: number;
        admitted_through: number;
        lapsed_through: number;
        changes: number;
      }>("SELECT seed, drawn, early, admitted_through, lapsed_through, changes FROM room")
      .toArray()[0];
    if (!room) return;
    this.#seed = room.seed;
    this.#commitment = seedCommitment(room.seed);
    this.#drawn = room.drawn === 1;
    this.#early = room.early;
    this.#admittedThrough = room.admitted_through;
    this.#lapsedThrough = room.lapsed_through;
    this.#changes = room.changes;
    this.#joined = this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM room_joiners").one().n;
    if (this.#drawn) {
      for (const row of this.#sql
        .exec<{ user_id: string; place: number }>(
          "SELECT user_id, place FROM room_joiners WHERE place IS NOT NULL ORDER BY place",
        )
        .toArray()) {
        this.#order.push(row.user_id);
        this.#places.set(row.user_id, row.place);
      }
      for (const row of this.#sql
        .exec<{ place: number }>(
          "SELECT j.place FROM room_joiners j JOIN claims c ON c.user_id = j.user_id WHERE j.place IS NOT NULL",
        )
        .toArray()) {
        this.#claimed.add(row.place);
      }
    }
    this.#lapsed = this.#unclaimedIn(0, this.#lapsedThrough);
    this.#steps = this.#sql
      .exec<{ through: number; at: number }>("SELECT through, at FROM room_steps ORDER BY through")
      .toArray()
      .map((s) => [s.through, s.at]);
  }
}
