/**
 * The waiting-room crowd (scenario `waiting-room-10x`): user i joins at `plan.arrivals[i]` with
 * `POST /v1/events/{id}/queue` and keeps its ticket, polls `GET …/queue/me` as `Retry-After`
 * says, claims with the `Queue-Ticket` header once admitted, and stops at a coupon, `sold-out`
 * or `ended`. What each user saw and when goes into `VisitorData.room` for the checks.
 */
import { DRAW_GRACE_MS } from "../domain/admission.ts";
import { arriveOnSchedule, notArrived } from "./arrivals.ts";
import { type Answer, retryAfterSeconds } from "./http.ts";
import { prng } from "./prng.ts";
import type { VisitorData } from "./run.ts";
import type { RoomPlan } from "./scenarios.ts";
import type { User } from "./target.ts";
import { type CrowdContext, call, couponOf, outcomeOf, sleep } from "./visit.ts";

/** One user's visit to the room, times in ms from startsAt (when its answer arrived). */
export interface RoomVisit {
  /** The join was answered with a ticket. */
  ticket: boolean;
  /** First `admitted` status. */
  admittedAt: number | null;
  /** First `sold-out` (status, claim or join). */
  soldOutAt: number | null;
  /** The user's final answer: its coupon, `sold-out` or `ended`; null when it never had one. */
  answeredAt: number | null;
  /** The user's place, from its latest status that had one (null: never known). */
  position: number | null;
  /** Status requests sent. */
  polls: number;
  /** The answer to the claim sent right after being told `waiting` (impatient users). */
  impatient?: string;
}

/** When nothing says otherwise, ask again this many seconds later. */
const DEFAULT_POLL_S = 2;

function statusOf(a: Answer): { state?: string; position?: number | null } {
  if (a.status !== 200) return {};
  try {
    return JSON.parse(a.body) as { state?: string; position?: number | null };
  } catch {
    return {};
  }
}

export async function room(plan: RoomPlan, ctx: CrowdContext): Promise<VisitorData[]> {
  const { users, pool, origin, record, rel, eventId } = ctx;
  const queuePath = `/v1/events/${eventId}/queue`;
  const statusPath = `${queuePath}/me`;
  const claimPath = `/v1/events/${eventId}/claims`;
  // Nobody polls forever: the draw, one full admission, and a minute's grace.
  const giveUpAt = DRAW_GRACE_MS + plan.admitSeconds * 1000 + 60_000;
  const visitors: VisitorData[] = users.map((u) => ({
    ...notArrived(u.id),
    room: {
      ticket: false,
      admittedAt: null,
      soldOutAt: null,
      answeredAt: null,
      position: null,
      polls: 0,
    },
  }));

  const visit = async (i: number) => {
    const v = visitors[i] as VisitorData;
    const r = v.room as RoomVisit;
    const auth = { authorization: `Bearer ${(users[i] as User).token}` };
    const jitter = prng(i + 1);
    const at = (a: Answer) => rel(a.endAt);
    const soldOut = (a: Answer) => {
      r.soldOutAt ??= at(a);
      r.answeredAt ??= at(a);
    };
    v.arriveAt = rel(performance.now());
    const finish = (outcome: string) => {
      v.outcome = outcome;
      v.leaveAt = rel(performance.now());
    };

    const joined = await call(pool, record, "join", i, queuePath, "POST", auth, jitter);
    let ticket = "";
    if (joined.status === 200 || joined.status === 201) {
      try {
        ticket = (JSON.parse(joined.body) as { ticket?: string }).ticket ?? "";
      } catch {
        ticket = "";
      }
    }
    if (!ticket) {
      if (joined.slug === "sold-out" || joined.slug === "ended") soldOut(joined);
      return finish(`join ${outcomeOf(joined)}`);
    }
    r.ticket = true;
    const withTicket = { ...auth, "queue-ticket": ticket };

    // Claims sent without admission; a coupon here is a broken gate (the checks say so).
    const claim = async (): Promise<Answer> => {
      v.claims++;
      const c = await call(pool, record, "claim", i, claimPath, "POST", withTicket, jitter);
      const coupon = couponOf(c);
      if (coupon) {
        v.couponIds.push(coupon.id);
        r.answeredAt ??= at(c);
      }
      if (c.status === 409 && (c.slug === "sold-out" || c.slug === "ended")) soldOut(c);
      return c;
    };
    const poll = async () => {
      r.polls++;
      const s = await call(pool, record, "status", i, statusPath, "GET", withTicket, jitter);
      const status = statusOf(s);
      if (typeof status.position === "number") r.position = status.position;
      return { s, state: status.state };
    };
    // A coupon won without an `admitted` status (an impatient claim the room had admitted by
    // then): one more status read learns the place the checks hold it to.
    const won = async (c: Answer) => {
      if (r.admittedAt === null) await poll();
      return finish(outcomeOf(c));
    };

    for (;;) {
      if (rel(performance.now()) > giveUpAt) return finish("gave up waiting");
      const { s, state } = await poll();
      if (state === "sold-out" || state === "ended") {
        soldOut(s);
        return finish(`status ${state}`);
      }
      if (state === "admitted") {
        r.admittedAt ??= at(s);
        const c = await claim();
        if (couponOf(c)) return won(c);
        if (r.soldOutAt !== null) return finish(outcomeOf(c));
        if (!(c.status === 409 && c.slug === "queued")) return finish(`claim ${outcomeOf(c)}`);
        // Refused as not admitted (a lapse, or another isolate's older snapshot): back to polling.
        await sleep((retryAfterSeconds(c.retryAfter) ?? DEFAULT_POLL_S) * 1000);
        continue;
      }
      if (state !== "waiting") return finish(`status ${outcomeOf(s)}`);
      if (i % plan.impatientEvery === 0 && r.impatient === undefined) {
        // Told to wait, the impatient user claims anyway, once: the room must refuse it.
        const c = await claim();
        r.impatient = outcomeOf(c);
        if (couponOf(c)) return won(c);
        if (r.soldOutAt !== null) return finish(outcomeOf(c));
      }
      await sleep((retryAfterSeconds(s.retryAfter) ?? DEFAULT_POLL_S) * 1000 + jitter() * 100);
    }
  };

  // Open model: each user joins at its planned time, however busy the service is.
  await arriveOnSchedule(plan.arrivals, origin, visit);
  return visitors;
}
