import type { Context } from "hono";
import type { Refusal } from "../../domain/ledger.ts";
import type { HonoEnv } from "../hono-env.ts";
import { ProblemError, problemResponse } from "../problems.ts";

export function eventNotFound(eventId: string): ProblemError {
  return new ProblemError("not-found", { detail: `No event with id "${eventId}".` });
}

const REFUSAL_DETAIL: Record<Refusal["slug"], string> = {
  "sold-out": "Every coupon of this event has been issued.",
  "awaiting-release": "The coupons released so far are gone; more will be released later.",
  "not-started": "The event has not started yet.",
  paused: "The event is paused.",
  ended: "The event has ended.",
  queued:
    "This event has a waiting room and you are not admitted (yet, or any more): see GET /v1/events/{id}/queue/me.",
};

function refusalOptions(refusal: Refusal) {
  return {
    detail: REFUSAL_DETAIL[refusal.slug],
    ...(refusal.retryAfter === undefined ? {} : { retryAfter: refusal.retryAfter }),
  };
}

/**
 * A refusal's problem answer, returned rather than thrown as a `ProblemError`: most of a crowd is
 * refused, and building and unwinding an Error per refusal is a measurable share of its CPU. The slug goes on
 * the context for metrics and logs. Typed as whatever the route promises (`never`): its problem
 * answers are documented from the problem table, not checked per handler.
 */
export function refusalAnswer(c: Context<HonoEnv>, refusal: Refusal): never {
  c.set("problem", refusal.slug);
  return problemResponse(refusal.slug, refusalOptions(refusal)) as never;
}
