/**
 * The waiting room's figures as lines of text (the console summary) and as rows of the report
 * page's summary table.
 */

import type { Latency } from "./report.ts";
import type { RoomFigures } from "./room-checks.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
const lat = (l: Latency) => `p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}`;

/** [label, value] pairs, in the order they are shown. */
export function roomRows(f: RoomFigures): [string, string][] {
  const o = f.object;
  return [
    [
      "room: joined · admitted · coupons · told sold-out",
      `${fmt(f.joined)} · ${fmt(f.admitted)} · ${fmt(f.holders)} · ${fmt(f.toldSoldOut)}`,
    ],
    [
      "room: requests join · status · claim (before admission)",
      `${fmt(f.requests.join)} · ${fmt(f.requests.status)} · ${fmt(f.requests.claim)} (${fmt(f.requests.impatientClaims)}); claims answered queued ${fmt(f.claimsQueued)}`,
    ],
    [
      "room: claim decisions counted by the event (issued + rejected)",
      o
        ? `${fmt(o.decisions)} = ${fmt(o.issued)} issued + ${
            Object.entries(o.rejected)
              .map(([k, n]) => `${fmt(n)} ${k}`)
              .join(" + ") || "0 rejected"
          } (an upper bound on claims that reached the object)`
        : "stats not read",
    ],
    ["room: join latency", lat(f.latency.join)],
    ["room: status latency", lat(f.latency.status)],
    ["room: claim latency", lat(f.latency.claim)],
    ["room: join → answer (coupon or sold-out), per user", lat(f.toAnswer)],
    ["room: last coupon → each waiter's sold-out", lat(f.soldOutAfterLastCoupon)],
    ["room: status polls per user", `p50 ${f.pollsPerUser.p50}, max ${f.pollsPerUser.max}`],
  ];
}

export function roomLines(f: RoomFigures): string[] {
  return roomRows(f).map(([k, v]) => `${k}: ${v}`);
}
