/**
 * The waiting room's own invariants and figures (scenario `waiting-room-10x`), from what each
 * user saw (`VisitorData.room`), the request records and the event's stats. Pure.
 */
import type { Check } from "./checks.ts";
import { latencySummary, percentiles, type RequestRecord, serviceMs } from "./http.ts";
import type { Latency } from "./report.ts";
import type { RunData, VisitorData } from "./run.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

export interface RoomFigures {
  /** Users answered with a ticket; who saw `admitted`; who got a coupon; who were told sold-out. */
  joined: number;
  admitted: number;
  holders: number;
  toldSoldOut: number;
  /** Requests the users sent, by kind; claims sent before any admission (impatient users). */
  requests: { join: number; status: number; claim: number; impatientClaims: number };
  /** Claims answered 409 `queued` (the edge's gate, or the object for a lapsed admission). */
  claimsQueued: number;
  /**
   * The event's own count of claim decisions (`GET …/stats` after the run): `issued` + every
   * `rejected` slug. It counts what the object decided plus the refusals an edge isolate made
   * certain from its snapshot (sold-out, not-started…: reported to the object in batches); the
   * edge's `queued` gate is not in it. So it bounds from above the claims that reached the object.
   */
  object: { issued: number; rejected: Record<string, number>; decisions: number } | null;
  /** Per request kind, written to a connection → full answer, ms. */
  latency: { join: Latency; status: Latency; claim: Latency };
  /** Per user, from its join to its answer (coupon or sold-out), ms. */
  toAnswer: Latency;
  /** Per waiter, from the last coupon's answer to its first sold-out, ms (0 when before). */
  soldOutAfterLastCoupon: Latency;
  /** Status polls per user. */
  pollsPerUser: { p50: number; max: number };
}

const roomOf = (v: VisitorData) => v.room;

/** The sentAt of the last claim answered 201 (ms from startsAt), null when none. */
function lastIssuedSentAt(records: RequestRecord[]): number | null {
  let last: number | null = null;
  for (const r of records) {
    if (r.kind === "claim" && r.status === 201) last = Math.max(last ?? -Infinity, r.sentAt);
  }
  return last;
}

export function roomChecks(run: RunData): Check[] {
  const checks: Check[] = [];
  const byUser = run.visitors;

  // A coupon only for a user the room had admitted: one who was told `admitted` before it sent
  // the claim, or (a claim sent without asking, e.g. an impatient one after the draw) whose place
  // is within the room's final frontier and whose claim came after startsAt, before which nobody
  // is admitted.
  const through = run.eventAfter?.queue?.admittedThrough ?? null;
  const issuedClaims = run.records.filter((r) => r.kind === "claim" && r.status === 201);
  let unasked = 0;
  let unadmitted = 0;
  for (const r of issuedClaims) {
    const room = byUser[r.user]?.room;
    if (room?.admittedAt != null && room.admittedAt <= r.sentAt) continue;
    const place = room?.position ?? null;
    if (place !== null && through !== null && place <= through && r.sentAt >= 0) unasked++;
    else unadmitted++;
  }
  const impatient = byUser.filter((v) => v.room?.impatient !== undefined);
  const impatientKeys = new Map<string, number>();
  for (const v of impatient) {
    const k = v.room?.impatient ?? "";
    impatientKeys.set(k, (impatientKeys.get(k) ?? 0) + 1);
  }
  checks.push({
    name: "no claim answered 201 to a user not admitted",
    verdict: unadmitted === 0 ? "pass" : "fail",
    detail: `${fmt(issuedClaims.length)} claims answered 201: ${fmt(unadmitted)} to a user the room had not admitted, ${fmt(unasked)} to a user admitted without asking (place within the final frontier ${through === null ? "?" : fmt(through)}); ${fmt(impatient.length)} claims sent after a waiting status answered ${
      [...impatientKeys].map(([k, n]) => `${k}: ${fmt(n)}`).join(", ") || "-"
    }`,
  });

  // Every user with a ticket and no coupon is told sold-out, never before the stock was gone.
  const waiters = byUser.filter((v) => v.room?.ticket && v.couponIds.length === 0);
  const untold = waiters.filter((v) => v.room?.soldOutAt === null);
  const lastSent = lastIssuedSentAt(run.records);
  const early =
    lastSent === null
      ? 0
      : waiters.filter((v) => v.room?.soldOutAt != null && v.room.soldOutAt < lastSent).length;
  const how = new Map<string, number>();
  for (const v of untold) how.set(v.outcome, (how.get(v.outcome) ?? 0) + 1);
  checks.push({
    name: "every waiter told sold-out after the last coupon",
    verdict: untold.length === 0 && early === 0 ? "pass" : "fail",
    detail: `${fmt(waiters.length)} users without a coupon; not told sold-out ${fmt(untold.length)}${
      how.size ? ` (${[...how].map(([k, n]) => `${k}: ${fmt(n)}`).join(", ")})` : ""
    }; told sold-out before the last coupon's claim was sent ${fmt(early)}`,
  });
  return checks;
}

interface StatsClaims {
  claims?: { issued?: number; rejected?: Record<string, number> };
}

export function roomFigures(run: RunData): RoomFigures {
  const rooms = run.visitors.map(roomOf).filter((r) => r !== undefined);
  const kind = (k: RequestRecord["kind"]) => run.records.filter((r) => r.kind === k);
  const stats = (run.statsAfter ?? null) as StatsClaims | null;
  const issued = stats?.claims?.issued;
  const rejected = stats?.claims?.rejected ?? {};
  const lastCoupon = run.lastIssuedAt;
  const waiters = run.visitors.filter((v) => v.room?.ticket && v.couponIds.length === 0);
  const polls = percentiles(rooms.map((r) => r.polls));
  return {
    joined: rooms.filter((r) => r.ticket).length,
    admitted: rooms.filter((r) => r.admittedAt !== null).length,
    holders: run.visitors.filter((v) => v.room && v.couponIds.length > 0).length,
    toldSoldOut: rooms.filter((r) => r.soldOutAt !== null).length,
    requests: {
      join: kind("join").length,
      status: kind("status").length,
      claim: kind("claim").length,
      impatientClaims: rooms.filter((r) => r.impatient !== undefined).length,
    },
    claimsQueued: kind("claim").filter((r) => r.status === 409 && r.slug === "queued").length,
    object:
      issued === undefined
        ? null
        : {
            issued,
            rejected,
            decisions: issued + Object.values(rejected).reduce((a, b) => a + b, 0),
          },
    latency: {
      join: latencySummary(kind("join").map(serviceMs)),
      status: latencySummary(kind("status").map(serviceMs)),
      claim: latencySummary(kind("claim").map(serviceMs)),
    },
    toAnswer: latencySummary(
      run.visitors.flatMap((v) =>
        v.room?.answeredAt != null && !Number.isNaN(v.arriveAt)
          ? [v.room.answeredAt - v.arriveAt]
          : [],
      ),
    ),
    soldOutAfterLastCoupon: latencySummary(
      lastCoupon === null
        ? []
        : waiters.flatMap((v) =>
            v.room?.soldOutAt != null ? [Math.max(0, v.room.soldOutAt - lastCoupon)] : [],
          ),
    ),
    pollsPerUser: { p50: polls.p50, max: polls.max },
  };
}
