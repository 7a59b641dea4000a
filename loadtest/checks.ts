/**
 * The invariants every run is held to, checked from outside the service (its HTTP answers, the
 * event read back, MySQL and the Kafka topic), and the issue's targets for the scenarios that
 * have them. Pure: the sink reads are done by the caller (loadtest/sinks.ts).
 */
import {
  answerKey,
  percentiles,
  type RequestRecord,
  retryAfterSeconds,
  serviceMs,
} from "./http.ts";
import { roomChecks } from "./room-checks.ts";
import type { RunData } from "./run.ts";
import type { Plan } from "./scenarios.ts";
import type { KafkaRecord, MysqlRow } from "./sinks.ts";

export type Verdict = "pass" | "fail" | "skipped";

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
}

/** What was read from the sinks, or why not. */
export interface SinkReads {
  mysql: { rows: MysqlRow[] } | { skipped: string } | { error: string };
  kafka: { records: KafkaRecord[] } | { skipped: string } | { error: string };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);

const REFUSALS = ["sold-out", "awaiting-release", "not-started", "paused", "ended"];

/**
 * The answers each kind of request may get; 429 and 503 are allowed only with Retry-After. A
 * claim may be answered `queued` only on an event with a waiting room.
 */
function allowed(plan: Plan): Record<RequestRecord["kind"], (r: RequestRecord) => boolean> {
  const refusals = plan.kind === "room" ? [...REFUSALS, "queued"] : REFUSALS;
  return {
    event: (r) => r.status === 200,
    claim: (r) =>
      r.status === 201 || r.status === 200 || (r.status === 409 && refusals.includes(r.slug ?? "")),
    coupon: (r) => r.status === 200,
    join: (r) =>
      r.status === 201 ||
      r.status === 200 ||
      (r.status === 409 && ["sold-out", "ended"].includes(r.slug ?? "")),
    status: (r) => r.status === 200,
  };
}

const shed = (r: RequestRecord) => r.status === 429 || r.status === 503;

export function checkInvariants(plan: Plan, run: RunData, sinks: SinkReads): Check[] {
  const checks: Check[] = [];
  // In a waiting room, every user with a ticket is a claimant (most are told sold-out instead).
  const claimants = run.visitors.filter((v) =>
    plan.kind === "room" ? v.room?.ticket === true : v.claims > 0,
  ).length;
  const expected = Math.min(claimants, plan.stock);

  // 1. issued = min(users, stock), from the event itself.
  const issued = run.eventAfter?.issued;
  checks.push({
    name: "issued = min(users, stock)",
    verdict: issued === expected ? "pass" : "fail",
    detail:
      issued === undefined
        ? "the event could not be read back"
        : `issued ${fmt(issued)}, min(${fmt(claimants)} users, ${fmt(plan.stock)} stock) = ${fmt(expected)}`,
  });

  // 2. No user with two coupon ids; no coupon id given to two users.
  const holders = new Map<string, Set<string>>();
  let twoIds = 0;
  for (const v of run.visitors) {
    const ids = new Set(v.couponIds);
    if (ids.size > 1) twoIds++;
    for (const id of ids) {
      const set = holders.get(id) ?? new Set<string>();
      set.add(v.user);
      holders.set(id, set);
    }
  }
  const shared = [...holders.values()].filter((s) => s.size > 1).length;
  checks.push({
    name: "no user with two coupon ids",
    verdict: twoIds === 0 && shared === 0 ? "pass" : "fail",
    detail: `${fmt(holders.size)} coupon ids answered; users with two ids: ${twoIds}; ids answered to two users: ${shared}`,
  });

  // 3. Every coupon the event issued was answered to its user, who reads the same one back.
  const mismatches = run.visitors.filter((v) => v.readBackMismatch).length;
  const readBackFailed = run.visitors.filter((v) => v.readBackFailed).length;
  const readsBack = plan.kind === "crowd";
  checks.push({
    name: readsBack
      ? "every issued coupon answered to its user and read back"
      : "every issued coupon answered to its user",
    verdict: issued === holders.size && mismatches === 0 && readBackFailed === 0 ? "pass" : "fail",
    detail: `issued ${issued === undefined ? "?" : fmt(issued)}, coupon ids answered ${fmt(holders.size)}${readsBack ? `, holders whose read-back differed: ${mismatches}, failed: ${readBackFailed}` : ""}`,
  });

  // 4. Only the contract's answers.
  const ALLOWED = allowed(plan);
  const bad = new Map<string, number>();
  let shedCount = 0;
  for (const r of run.records) {
    if (shed(r)) {
      shedCount++;
      if (retryAfterSeconds(r.retryAfter) !== undefined) continue;
      const k = `${answerKey(r)} without Retry-After`;
      bad.set(k, (bad.get(k) ?? 0) + 1);
      continue;
    }
    if (!ALLOWED[r.kind](r)) bad.set(answerKey(r), (bad.get(answerKey(r)) ?? 0) + 1);
  }
  const badList = [...bad.entries()].map(([k, n]) => `${k}: ${fmt(n)}`).join(", ");
  checks.push({
    name: "no answer other than 201/200/409 (429/503 only with Retry-After)",
    verdict: bad.size === 0 ? "pass" : "fail",
    detail: `${fmt(run.records.length)} answers${shedCount ? `, ${fmt(shedCount)} 429/503 with Retry-After` : ""}${bad.size ? `; not allowed: ${badList}` : ""}`,
  });

  // 5. Every issued coupon in MySQL exactly once, for its user.
  const answered = new Map([...holders].map(([id, users]) => [id, [...users][0] as string]));
  if ("rows" in sinks.mysql) {
    const rows = sinks.mysql.rows;
    const count = new Map<string, number>();
    for (const r of rows) count.set(r.id, (count.get(r.id) ?? 0) + 1);
    const missing = [...answered.keys()].filter((id) => !count.has(id)).length;
    const twice = [...count.values()].filter((n) => n > 1).length;
    const unknown = rows.filter((r) => !answered.has(r.id)).length;
    const wrongUser = rows.filter(
      (r) => answered.has(r.id) && answered.get(r.id) !== r.userId,
    ).length;
    const ok =
      missing === 0 && twice === 0 && unknown === 0 && wrongUser === 0 && rows.length === issued;
    checks.push({
      name: "every issued coupon in MySQL exactly once",
      verdict: ok ? "pass" : "fail",
      detail: `${fmt(rows.length)} rows for the event; missing ${missing}, more than once ${twice}, not answered to anyone ${unknown}, another user's ${wrongUser}`,
    });
  } else {
    checks.push({
      name: "every issued coupon in MySQL exactly once",
      verdict: "skipped" in sinks.mysql ? "skipped" : "fail",
      detail:
        "skipped" in sinks.mysql ? sinks.mysql.skipped : `reading MySQL: ${sinks.mysql.error}`,
    });
  }

  // 6. Every issued coupon on the topic at least once, keyed by its id.
  if ("records" in sinks.kafka) {
    const issuedRecords = sinks.kafka.records.filter((r) => r.type === "coupon.issued");
    const keyed = new Set(issuedRecords.filter((r) => r.key === r.couponId).map((r) => r.key));
    const missing = [...answered.keys()].filter((id) => !keyed.has(id)).length;
    const wrongKey = issuedRecords.filter((r) => r.key !== r.couponId).length;
    checks.push({
      name: "every issued coupon on Kafka at least once",
      verdict: missing === 0 && wrongKey === 0 && keyed.size === issued ? "pass" : "fail",
      detail: `${fmt(sinks.kafka.records.length)} records for the event (${fmt(keyed.size)} coupons); missing ${missing}, keyed by something else ${wrongKey}`,
    });
  } else {
    checks.push({
      name: "every issued coupon on Kafka at least once",
      verdict: "skipped" in sinks.kafka ? "skipped" : "fail",
      detail:
        "skipped" in sinks.kafka ? sinks.kafka.skipped : `reading Kafka: ${sinks.kafka.error}`,
    });
  }

  // 7. The outbox drained.
  const { drainedAt } = run.drain;
  const since = run.lastIssuedAt;
  checks.push({
    name: "outbox drained",
    verdict: drainedAt !== null ? "pass" : "fail",
    detail:
      drainedAt === null
        ? `${run.drain.lastPending ?? "?"} rows still pending ${fmtMs(run.drain.timeoutMs)} after the load`
        : since === null
          ? "nothing was issued; the outbox is empty"
          : `empty ${fmtMs(Math.max(0, drainedAt - since))} after the last coupon was issued`,
  });
  if (plan.kind === "room") checks.push(...roomChecks(run));
  return checks;
}

/** The issue's targets (incident and burst): reported, and failing the run only with --strict. */
export function checkTargets(plan: Plan, run: RunData): Check[] {
  if (!plan.targets) return [];
  const errors = run.records.filter((r) => r.status === 0 || r.status >= 500);
  const claims = percentiles(run.records.filter((r) => r.kind === "claim").map(serviceMs));
  const drainMs =
    run.drain.drainedAt === null
      ? null
      : Math.max(0, run.drain.drainedAt - (run.lastIssuedAt ?? run.drain.drainedAt));
  const byKey = new Map<string, number>();
  for (const r of errors) byKey.set(answerKey(r), (byKey.get(answerKey(r)) ?? 0) + 1);
  return [
    {
      name: "zero 5xx and network errors",
      verdict: errors.length === 0 ? "pass" : "fail",
      detail:
        errors.length === 0 ? "none" : [...byKey].map(([k, n]) => `${k}: ${fmt(n)}`).join(", "),
    },
    {
      name: "claim p95 ≤ 100 ms",
      verdict: claims.p95 <= 100 ? "pass" : "fail",
      detail: `${fmtMs(claims.p95)} over ${fmt(claims.count)} claims`,
    },
    {
      name: "claim p99 ≤ 250 ms",
      verdict: claims.p99 <= 250 ? "pass" : "fail",
      detail: `${fmtMs(claims.p99)} (max ${fmtMs(claims.max)})`,
    },
    {
      name: "outbox drained into MySQL and Kafka within 5 s of the last claim",
      verdict: drainMs !== null && drainMs <= 5_000 ? "pass" : "fail",
      detail: drainMs === null ? "not drained" : fmtMs(drainMs),
    },
  ];
}
