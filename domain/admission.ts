import { fnv1a } from "./fnv.ts";
import {
  type EventDefinition,
  type LedgerCounters,
  type QueueRules,
  releasedAt,
  secondsUntil,
  stateOf,
} from "./ledger.ts";

export const DEFAULT_MARGIN = 0;
export const DEFAULT_ADMIT_SECONDS = 120;
/**
 * The draw waits this long after `startsAt` for the edge's last reports of early joins (each
 * isolate reports every second): joins reported later than that count as late.
 */
export const DRAW_GRACE_MS = 2_500;

/** A join as the edge reports it: the user and when its isolate let it in (epoch ms). */
export type JoinReport = [userId: string, joinedAt: number];

/** What the edge needs to place users itself: the draw table, and late joiners from `lateFrom`. */
export interface RoomTable {
  early: string;
  /** Draw-value prefixes of late joiners, in place order, from place early + lateFrom + 1. */
  late: string[];
}

/** The room as the object publishes it (in the event's snapshot): small, whatever the crowd. */
export interface RoomState {
  commitment: string;
  /** Null until `startsAt` (the object's clock). */
  seed: string | null;
  /** Users the object knows joined. */
  joined: number;
  drawn: boolean;
  /** Places 1..early went by the draw, early+1..early+late by arrival. */
  early: number;
  late: number;
  /** Every place up to here has been admitted at some point. */
  admittedThrough: number;
  /** Every place up to here was admitted long enough ago to have lapsed (or been used). */
  lapsedThrough: number;
  /** Admitted places whose admission ran out unused (their users hold no coupon). */
  lapsed: number;
  /** Admissions still running, oldest first: places (previous through, through] at `at`. */
  steps: { through: number; at: number }[];
  /** Admissions per second over the last minute, or null before there is a measure. */
  ratePerSecond: number | null;
  /** Grows with every change of the room (part of the snapshot's version). */
  changes: number;
}

/**
 * How many more places to admit: enough that admitted users who have not claimed yet
 * (`outstanding`) never exceed what the released stock can still serve plus the margin. A
 * paused event, or one whose released stock is gone, admits nobody.
 */
export function placesToAdmit(
  def: EventDefinition,
  rules: QueueRules,
  counters: LedgerCounters,
  outstanding: number,
  waiting: number,
  now: number,
): number {
  if (stateOf(def, counters, now) !== "open") return 0;
  const remaining = releasedAt(def, now) - counters.issued;
  if (remaining <= 0) return 0;
  return Math.max(0, Math.min(waiting, remaining + rules.margin - outstanding));
}

/** When the admission of `place` ends; null when it is not admitted or already lapsed. */
export function admittedUntil(room: RoomState, rules: QueueRules, place: number): number | null {
  if (place > room.admittedThrough || place <= room.lapsedThrough) return null;
  const step = room.steps.find((s) => s.through >= place);
  return step ? step.at + rules.admitSeconds * 1000 : null;
}

export type QueueState = "waiting" | "admitted" | "sold-out" | "ended";

export interface QueueStatus {
  state: QueueState;
  position: number | null;
  admittedThrough: number;
  remaining: number;
  estimatedWaitSeconds: number | null;
  admittedUntil: string | null;
  /** This user's admission ran out unused: the place went on (beyond the contract's members). */
  lapsed: boolean;
}

/** The longest a waiting user is told to wait before asking again. */
const MAX_POLL_SECONDS = 30;

/**
 * A user's status from the snapshot and its place (null: not drawn, or its join not reported yet),
 * with when to ask again: about half the estimated wait, capped, plus a per-user offset so that a
 * crowd's polls spread over the seconds instead of arriving together.
 */
export function queueStatus(args: {
  def: EventDefinition;
  rules: QueueRules;
  counters: LedgerCounters;
  room: RoomState;
  place: number | null;
  userId: string;
  now: number;
}): { status: QueueStatus; retryAfter: number | null } {
  const { def, rules, counters, room, place, userId, now } = args;
  const remaining = Math.max(0, releasedAt(def, now) - counters.issued);
  const base = {
    position: place,
    admittedThrough: room.admittedThrough,
    remaining,
    estimatedWaitSeconds: null,
    admittedUntil: null,
    lapsed: false,
  };
  const state = stateOf(def, counters, now);
  if (state === "ended" || state === "sold-out") {
    return { status: { ...base, state }, retryAfter: null };
  }
  const until = place === null ? null : admittedUntil(room, rules, place);
  if (until !== null && until > now) {
    return {
      status: { ...base, state: "admitted", admittedUntil: new Date(until).toISOString() },
      retryAfter: null,
    };
  }
  const spread = fnv1a(userId) % 5;
  if (place === null) {
    const drawAt = def.startsAt + DRAW_GRACE_MS;
    const wait = now < drawAt ? secondsUntil(drawAt, now) : 2;
    return {
      status: { ...base, state: "waiting" },
      retryAfter: Math.min(wait, MAX_POLL_SECONDS) + spread,
    };
  }
  if (place <= room.admittedThrough) {
    return { status: { ...base, state: "waiting", lapsed: true }, retryAfter: MAX_POLL_SECONDS };
  }
  const ahead = place - room.admittedThrough;
  const estimate = room.ratePerSecond ? Math.ceil(ahead / room.ratePerSecond) : null;
  const poll =
    estimate === null ? 5 : Math.max(1, Math.min(MAX_POLL_SECONDS, Math.ceil(estimate / 2)));
  return {
    status: { ...base, state: "waiting", estimatedWaitSeconds: estimate },
    retryAfter: poll + spread,
  };
}
