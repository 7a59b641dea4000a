import { type EventDefinition, type LedgerCounters, type Refusal, refuse } from "./ledger.ts";

/** Clocks of isolates and objects may differ a little: "not started" is refused here only earlier. */
export const START_MARGIN_MS = 1_000;

/**
 * What an isolate may refuse from its snapshot without asking the event's object: only what the
 * object would refuse for certain. Before the start (nobody can hold a coupon yet), or sold out /
 * ended once the holders are final and this user is certainly not one. Paused and
 * awaiting-release can change at any moment (an operator, a wave), so the object decides those.
 */
export function certainRefusal(
  def: EventDefinition,
  counters: LedgerCounters,
  holders: { mightHold(userId: string): boolean } | null,
  userId: string,
  now: number,
): Refusal | null {
  const refusal = refuse(def, counters, now);
  if (!refusal) return null;
  if (refusal.slug === "not-started") {
    return now < def.startsAt - START_MARGIN_MS ? refusal : null;
  }
  if (refusal.slug === "sold-out" || refusal.slug === "ended") {
    return holders && !holders.mightHold(userId) ? refusal : null;
  }
  return null;
}
