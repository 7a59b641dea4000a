/**
 * What every kind of visitor does with the service: a request retried after 429/503, a coupon
 * read from an answer, an answer as an outcome, a pause, and what a crowd runs with. Shared by
 * the crowd, saturate and the waiting room (run.ts, room.ts).
 */
import type { Pool } from "undici";
import { type Answer, type Kind, retryAfterSeconds, send } from "./http.ts";
import type { CouponView } from "./run.ts";
import type { User } from "./target.ts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export type Recorder = (kind: Kind, user: number, a: Answer) => void;

/** What a crowd (crowd, saturate, the room) runs with; times are ms from `origin`, startsAt. */
export interface CrowdContext {
  users: User[];
  pool: Pool;
  origin: number;
  record: Recorder;
  rel: (perf: number) => number;
  eventId: string;
}

/** Sends a request, retrying on 429/503 after Retry-After (1 s when missing), at most 3 times. */
export async function call(
  pool: Pool,
  record: Recorder,
  kind: Kind,
  user: number,
  path: string,
  method: "GET" | "POST",
  headers: Record<string, string>,
  jitter: () => number,
): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const a = await send(pool, path, method, headers);
    record(kind, user, a);
    if ((a.status !== 429 && a.status !== 503) || attempt >= 3) return a;
    await sleep((retryAfterSeconds(a.retryAfter) ?? 1) * 1000 + jitter() * 250);
  }
}

export function couponOf(a: Answer): CouponView | undefined {
  if (a.status !== 200 && a.status !== 201) return undefined;
  try {
    const c = JSON.parse(a.body) as Partial<CouponView>;
    return typeof c.id === "string" ? (c as CouponView) : undefined;
  } catch {
    return undefined;
  }
}

/** An answer as a visitor's outcome: "201", "409 sold-out", "error UND_ERR_SOCKET"... */
export const outcomeOf = (a: Answer) =>
  a.status === 0 ? `error ${a.error}` : `${a.status}${a.slug ? ` ${a.slug}` : ""}`;
