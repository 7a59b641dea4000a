/**
 * The stock ledger of one event: every rule that decides whether a claim may be issued lives
 * here, as pure functions of (definition, counters, now). The Durable Object only stores and
 * serializes; splitting an event across several objects later means giving each a share of
 * every wave, not rewriting these rules.
 */

import type { Jurisdiction, Region } from "./placement.ts";

export interface Wave {
  /** Epoch milliseconds at which `quantity` more coupons are released. */
  at: number;
  quantity: number;
}

/** A waiting room's rules, part of the event's definition. */
export interface QueueRules {
  /** Epoch ms from which users may join; before `startsAt`. */
  opensAt: number;
  /** Admitted users who have not claimed yet may exceed the remaining stock by this many. */
  margin: number;
  /** How long an admission lasts: unused by then, it lapses and the place goes on. */
  admitSeconds: number;
}

export interface EventDefinition {
  id: string;
  name: string;
  totalStock: number;
  startsAt: number;
  endsAt: number | null;
  couponExpiresAt: number | null;
  /** Sorted by `at`; quantities add up to `totalStock`. */
  waves: Wave[];
  /** Where its objects live (domain/placement.ts); absent: anywhere, the default namespace. */
  region?: Region | null;
  jurisdiction?: Jurisdiction | null;
  /** The waiting room's rules; absent or null: no room (domain/admission.ts). */
  queue?: QueueRules | null;
  /** Objects sharing the stock (domain/shards.ts); absent: one object. Set only when above 1. */
  shards?: number;
}

export interface LedgerCounters {
  issued: number;
  paused: boolean;
}

/** The most coupons one event may hold (and one wave release). */
export const MAX_STOCK = 10_000_000;

export const EVENT_STATES = [
  "scheduled",
  "open",
  "awaiting-release",
  "paused",
  "sold-out",
  "ended",
] as const;

export type EventState = (typeof EVENT_STATES)[number];

export const REFUSAL_SLUGS = [
  "not-started",
  "paused",
  "ended",
  "sold-out",
  "awaiting-release",
  "queued",
] as const;

export type RefusalSlug = (typeof REFUSAL_SLUGS)[number];

export interface Refusal {
  slug: RefusalSlug;
  /** Whole seconds until trying again makes sense (not-started, awaiting-release, queued). */
  retryAfter?: number;
}

/** Stock released by the waves up to `now`. */
export function releasedAt(def: EventDefinition, now: number): number {
  let released = 0;
  for (const wave of def.waves) {
    if (wave.at <= now) released += wave.quantity;
  }
  return released;
}

/** The next wave still to come, or null when every wave has been released. */
export function nextWaveAt(def: EventDefinition, now: number): number | null {
  for (const wave of def.waves) {
    if (wave.at > now) return wave.at;
  }
  return null;
}

/** Seconds from `now` until `at`, rounded up, never below 1 (Retry-After is a whole number). */
export function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

export function stateOf(def: EventDefinition, counters: LedgerCounters, now: number): EventState {
  if (def.endsAt !== null && now >= def.endsAt) return "ended";
  if (counters.paused) return "paused";
  if (now < def.startsAt) return "scheduled";
  if (counters.issued >= def.totalStock) return "sold-out";
  if (counters.issued >= releasedAt(def, now)) {
    return nextWaveAt(def, now) === null ? "sold-out" : "awaiting-release";
  }
  return "open";
}

/** Null when one more coupon may be issued now, else why not. */
export function refuse(
  def: EventDefinition,
  counters: LedgerCounters,
  now: number,
): Refusal | null {
  const state = stateOf(def, counters, now);
  switch (state) {
    case "open":
      return null;
    case "ended":
      return { slug: "ended" };
    case "paused":
      return { slug: "paused" };
    case "sold-out":
      return { slug: "sold-out" };
    case "scheduled":
      return { slug: "not-started", retryAfter: secondsUntil(def.startsAt, now) };
    case "awaiting-release": {
      const next = nextWaveAt(def, now);
      return { slug: "awaiting-release", retryAfter: next === null ? 1 : secondsUntil(next, now) };
    }
    default:
      return assertNever(state);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
