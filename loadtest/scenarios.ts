/**
 * The scenarios of `npm run loadtest`: who arrives when, what the event looks like, and which
 * sink faults happen during the run. Pure data and arithmetic (no I/O), so the shapes are unit
 * tested (test/loadtest/scenarios.test.ts).
 *
 * Times are milliseconds relative to the event's `startsAt` (negative: before it opens).
 */

export const SCENARIO_NAMES = [
  "incident",
  "burst",
  "burst-10x",
  "weekly-100",
  "weekly-200",
  "weekly-500",
  "waves",
  "sink-outage",
  "saturate",
  "waiting-room-10x",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const isScenarioName = (s: string): s is ScenarioName =>
  (SCENARIO_NAMES as readonly string[]).includes(s);

/**
 * The post-mortem's crowd (INC-2025-0912-001): 150 visitors in flight when the event opened,
 * 800 within 30 s, 2,500 in all for 500 coupons; coupon requests peaked at ~150/s.
 */
export const INCIDENT = {
  users: 2_500,
  stock: 500,
  initialInFlight: 150,
  peakInFlight: 800,
  rampMs: 30_000,
  /** Arrivals per second once the event is open (the incident's 150 coupon requests/s). */
  lateRatePerSec: 150,
  pollMs: 2_000,
} as const;

/** How a visitor behaves: the claim page (read, poll until open, claim, read back) or a click. */
export type Behaviour = "page" | "click";

/** A change of one local sink during the run (the gateway's control port). */
export interface FaultStep {
  atMs: number;
  api: "planetscale" | "kafka";
  /** `stop`: the API refuses connections; `error`: it answers 500; `start`/`heal` undo them. */
  action: "stop" | "start" | "error" | "heal";
  label: string;
}

export interface CrowdPlan {
  kind: "crowd";
  name: ScenarioName;
  description: string;
  users: number;
  stock: number;
  timeScale: number;
  behaviour: Behaviour;
  /** When each visitor arrives (ms from startsAt), sorted. */
  arrivals: number[];
  /** The first arrival comes this long before startsAt. */
  leadMs: number;
  /** Poll interval of the page while the event is scheduled. */
  pollMs: number;
  /** Stock released per wave (ms from startsAt); one wave at 0 when absent. */
  waves: { atMs: number; quantity: number }[];
  faults: FaultStep[];
  /** Targets of the issue apply (incident, burst). */
  targets: boolean;
}

export interface SaturatePlan {
  kind: "saturate";
  name: "saturate";
  description: string;
  /** Tokens minted: the run stops early when they are used up. */
  users: number;
  stock: number;
  timeScale: number;
  concurrency: number;
  durationMs: number;
  leadMs: number;
  waves: { atMs: number; quantity: number }[];
  faults: FaultStep[];
  targets: boolean;
}

/**
 * A crowd that queues in the event's waiting room (API.md, "Waiting room"): each user joins at
 * its arrival, polls its status as `Retry-After` says, claims with its ticket once admitted, and
 * stops at a coupon, `sold-out` or `ended`. Every `impatientEvery`-th user also claims once right
 * after joining, before any admission: that claim must be refused (`queued`).
 */
export interface RoomPlan {
  kind: "room";
  name: "waiting-room-10x";
  description: string;
  users: number;
  stock: number;
  timeScale: number;
  /** When each user joins (ms from startsAt), sorted, all before startsAt. */
  arrivals: number[];
  leadMs: number;
  /** The room's `margin` and `admitSeconds` (the create's `queue`). */
  margin: number;
  admitSeconds: number;
  impatientEvery: number;
  waves: { atMs: number; quantity: number }[];
  faults: FaultStep[];
  targets: boolean;
}

export type Plan = CrowdPlan | SaturatePlan | RoomPlan;

export interface PlanOptions {
  users?: number;
  stock?: number;
  timeScale?: number;
  concurrency?: number;
  durationSec?: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * The incident's shape for `users` visitors: a share of them (150/2,500) present at the start
 * of a 30 s ramp, the in-flight count rising linearly to 800/2,500 of them at the opening (they
 * all wait on the page, polling), then the rest arriving at the incident's 150/s (scaled by
 * users / 2,500), all times multiplied by `timeScale`.
 */
export function incidentArrivals(users: number, timeScale: number): number[] {
  const initial = Math.max(1, Math.round((users * INCIDENT.initialInFlight) / INCIDENT.users));
  const peak = Math.min(
    users,
    Math.max(initial, Math.round((users * INCIDENT.peakInFlight) / INCIDENT.users)),
  );
  const ramp = INCIDENT.rampMs * timeScale;
  // The first visitors come within the first (scaled) second, the rest of the ramp evenly.
  const firstSecond = Math.min(1_000 * timeScale, ramp);
  const out: number[] = [];
  for (let i = 0; i < initial; i++) out.push(-ramp + (firstSecond * i) / initial);
  const ramping = peak - initial;
  for (let i = 0; i < ramping; i++) {
    out.push(-ramp + firstSecond + ((ramp - firstSecond) * (i + 0.5)) / ramping);
  }
  const late = users - peak;
  // The same 150/s per 2,500 visitors: the late span does not depend on the crowd's size.
  const lateSpan = ((late / users) * INCIDENT.users * 1_000 * timeScale) / INCIDENT.lateRatePerSec;
  for (let i = 0; i < late; i++) out.push((lateSpan * (i + 0.5)) / late);
  return out;
}

/** `users` joins spread evenly over the `spanMs` before startsAt (the last one just before it). */
export function joinArrivals(users: number, spanMs: number): number[] {
  return Array.from({ length: users }, (_, i) => -spanMs + (spanMs * (i + 0.5)) / users);
}

/** The waiting room at ten times the burst: 25,000 users join in the last 10 s, 5,000 coupons. */
export const ROOM_10X = {
  users: 25_000,
  stock: 5_000,
  joinWindowMs: 10_000,
  /** The service's default; scaled with the times, never below the API's 10 s. */
  admitSeconds: 120,
  impatientEvery: 10,
} as const;

/** `users` clicks spread evenly over one second from startsAt. */
export function burstArrivals(users: number, spanMs = 1_000): number[] {
  return Array.from({ length: users }, (_, i) => (spanMs * i) / users);
}

/** The in-flight count at time `t` for visitors who stay until `leave[i]` (same order). */
export function inFlightAt(t: number, arrive: number[], leave: number[]): number {
  let n = 0;
  for (let i = 0; i < arrive.length; i++) {
    if ((arrive[i] as number) <= t && t < (leave[i] ?? Number.POSITIVE_INFINITY)) n++;
  }
  return n;
}

/** Splits `stock` into waves in the proportions 100 / 200 / 200 (the staged re-open). */
export function stagedWaves(
  stock: number,
  timeScale: number,
): { atMs: number; quantity: number }[] {
  if (stock < 5) return [{ atMs: 0, quantity: stock }];
  const first = Math.round(stock / 5);
  const second = Math.round((stock * 2) / 5);
  return [
    { atMs: 0, quantity: first },
    { atMs: 60_000 * timeScale, quantity: second },
    { atMs: 120_000 * timeScale, quantity: stock - first - second },
  ];
}

/** A crowd of the incident's shape (its ramp, its polling), all stock released at the opening. */
function incidentShaped(
  plan: Pick<CrowdPlan, "name" | "description" | "users" | "stock" | "timeScale" | "targets">,
): CrowdPlan {
  const { users, stock, timeScale } = plan;
  return {
    kind: "crowd",
    ...plan,
    behaviour: "page",
    arrivals: incidentArrivals(users, timeScale),
    leadMs: INCIDENT.rampMs * timeScale,
    pollMs: INCIDENT.pollMs * timeScale,
    waves: [{ atMs: 0, quantity: stock }],
    faults: [],
  };
}

function weekly(name: ScenarioName, concurrent: number, o: PlanOptions): CrowdPlan {
  const users = o.users ?? Math.round((concurrent * INCIDENT.users) / INCIDENT.peakInFlight);
  const stock = o.stock ?? Math.max(1, Math.round(concurrent / 5));
  return incidentShaped({
    name,
    description: `${fmt(concurrent)} concurrent users at the opening (${fmt(users)} in all, the incident's shape), ${fmt(stock)} coupons`,
    users,
    stock,
    timeScale: o.timeScale ?? 1,
    targets: false,
  });
}

/** Resolves a scenario and the command line's overrides into a plan. */
export function planFor(name: ScenarioName, o: PlanOptions = {}): Plan {
  const timeScale = o.timeScale ?? 1;
  if (!(timeScale > 0)) throw new Error("--time-scale must be a positive number");
  switch (name) {
    case "incident": {
      const users = o.users ?? INCIDENT.users;
      const stock = o.stock ?? INCIDENT.stock;
      const scaled = timeScale === 1 ? "" : ` (times x${timeScale})`;
      return incidentShaped({
        name,
        description: `the incident: ${fmt((users * INCIDENT.initialInFlight) / INCIDENT.users)} → ${fmt((users * INCIDENT.peakInFlight) / INCIDENT.users)} visitors in flight over ${(INCIDENT.rampMs * timeScale) / 1000} s before the opening, ${fmt(users)} in all, ${fmt(stock)} coupons; each reads the event, polls it every ~${(INCIDENT.pollMs * timeScale) / 1000} s until it opens, claims once and reads its coupon back${scaled}`,
        users,
        stock,
        timeScale,
        targets: true,
      });
    }
    case "burst":
    case "burst-10x":
    case "sink-outage": {
      const tenfold = name === "burst-10x";
      const users = o.users ?? (tenfold ? 25_000 : 2_500);
      const stock = o.stock ?? (tenfold ? 5_000 : 500);
      const faults: FaultStep[] =
        name === "sink-outage"
          ? [
              { atMs: -500, api: "planetscale", action: "stop", label: "MySQL down" },
              { atMs: 250, api: "kafka", action: "error", label: "Kafka down" },
              { atMs: 2_500, api: "planetscale", action: "start", label: "MySQL up" },
              { atMs: 4_500, api: "kafka", action: "heal", label: "Kafka up" },
            ]
          : [];
      const outage =
        name === "sink-outage"
          ? "; MySQL refuses connections from -0.5 s to +2.5 s, Kafka answers 500 from +0.25 s to +4.5 s"
          : "";
      return {
        kind: "crowd",
        name,
        description: `${fmt(users)} users click in the same second at startsAt, ${fmt(stock)} coupons; each claims and reads its coupon back${outage}`,
        users,
        stock,
        timeScale: 1,
        behaviour: "click",
        arrivals: burstArrivals(users),
        leadMs: 0,
        pollMs: INCIDENT.pollMs,
        waves: [{ atMs: 0, quantity: stock }],
        faults,
        targets: name === "burst",
      };
    }
    case "weekly-100":
      return weekly(name, 100, o);
    case "weekly-200":
      return weekly(name, 200, o);
    case "weekly-500":
      return weekly(name, 500, o);
    case "waves": {
      const users = o.users ?? INCIDENT.users;
      const stock = o.stock ?? INCIDENT.stock;
      const waves = stagedWaves(stock, timeScale);
      const list = waves.map((w) => `${fmt(w.quantity)} at +${w.atMs / 1000} s`).join(", ");
      return {
        kind: "crowd",
        name,
        description: `the staged re-open: ${list}; ${fmt(users)} visitors in the incident's shape, who wait for the next wave (Retry-After) when the released stock is gone`,
        users,
        stock,
        timeScale,
        behaviour: "page",
        arrivals: incidentArrivals(users, timeScale),
        leadMs: INCIDENT.rampMs * timeScale,
        pollMs: INCIDENT.pollMs * timeScale,
        waves,
        faults: [],
        targets: false,
      };
    }
    case "waiting-room-10x": {
      const users = o.users ?? ROOM_10X.users;
      const stock = o.stock ?? ROOM_10X.stock;
      const windowMs = ROOM_10X.joinWindowMs * timeScale;
      const admitSeconds = Math.max(10, Math.round(ROOM_10X.admitSeconds * timeScale));
      return {
        kind: "room",
        name,
        description: `${fmt(users)} users join the waiting room in the last ${windowMs / 1000} s before startsAt, ${fmt(stock)} coupons; each polls its place as Retry-After says and claims with its ticket once admitted (admissions last ${admitSeconds} s); every ${ROOM_10X.impatientEvery}th, told to wait, claims once anyway`,
        users,
        stock,
        timeScale,
        arrivals: joinArrivals(users, windowMs),
        leadMs: windowMs,
        margin: 0,
        admitSeconds,
        impatientEvery: ROOM_10X.impatientEvery,
        waves: [{ atMs: 0, quantity: stock }],
        faults: [],
        targets: false,
      };
    }
    case "saturate": {
      const concurrency = o.concurrency ?? 64;
      const durationMs = (o.durationSec ?? 10) * 1000;
      const stock = o.stock ?? 10_000_000;
      const users = o.users ?? 40_000;
      return {
        kind: "saturate",
        name,
        description: `${fmt(concurrency)} claims in flight at all times for ${durationMs / 1000} s, a fresh user each (at most ${fmt(users)}), ${fmt(stock)} coupons`,
        users,
        stock,
        timeScale: 1,
        concurrency,
        durationMs,
        leadMs: 0,
        waves: [{ atMs: 0, quantity: stock }],
        faults: [],
        targets: false,
      };
    }
  }
}
