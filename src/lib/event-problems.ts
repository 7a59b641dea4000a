import type { Context } from "hono";
import type { Refusal } from "../../domain/ledger.ts";
import type { HonoEnv } from "../hono-env.ts";
import { PROBLEMS, ProblemError, problemResponse } from "../problems.ts";

export function eventNotFound(eventId: string): ProblemError {
  return new ProblemError("not-found", { detail: `No event with id "${eventId}".` });
}

function refusalOptions(refusal: Refusal) {
  return {
    detail: PROBLEMS[refusal.slug].detail,
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
