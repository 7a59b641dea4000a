import type { Refusal } from "../../domain/ledger.ts";
import { ProblemError } from "../problems.ts";

export function eventNotFound(eventId: string): ProblemError {
  return new ProblemError("not-found", { detail: `No event with id "${eventId}".` });
}

const REFUSAL_DETAIL: Record<Refusal["slug"], string> = {
  "sold-out": "Every coupon of this event has been issued.",
  "awaiting-release": "The coupons released so far are gone; more will be released later.",
  "not-started": "The event has not started yet.",
  paused: "The event is paused.",
  ended: "The event has ended.",
};

export function refusalProblem(refusal: Refusal): ProblemError {
  return new ProblemError(refusal.slug, {
    detail: REFUSAL_DETAIL[refusal.slug],
    ...(refusal.retryAfter === undefined ? {} : { retryAfter: refusal.retryAfter }),
  });
}
