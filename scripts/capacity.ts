/**
 * The capacity model of a sharded event (`npm run capacity`; docs/shards.md): a discrete-event
 * simulation of one flash sale at Cloudflare scale, for 1/4/16/64 shards. Pure computation, no
 * stack: the CPU costs are the objects-process figures measured by `npm run bench`
 * (BENCHMARKS.md), the rest are the assumptions printed beside the table.
 *
 *   node scripts/capacity.ts [--users 1000000] [--seconds 10] [--stock 50000] [--locations 100]
 */
import { parseArgs } from "node:util";
import { shardOf } from "../domain/shards.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    seconds: { type: "string", default: "10" },
    stock: { type: "string", default: "50000" },
    locations: { type: "string", default: "100" },
    markdown: { type: "boolean", default: false },
  },
});

/** Objects-process CPU, from BENCHMARKS.md (burst-10x and saturate rows; see `npm run bench`). */
const COST = {
  /** Per issued claim (burst-10x: 110 µs per issued; saturate: 175 µs with tiny batches). */
  issuedUs: 110,
  /** Per refused claim inside a batch (burst-10x: 22 µs per request, most refused). */
  refusedUs: 22,
  /** Per call, whatever it carries (RPC dispatch, a transaction): assumed, not measured alone. */
  callUs: 50,
  /** A lease at the coordinator (one call, one transaction): assumed as one call plus a claim. */
  leaseUs: 160,
};

const ASSUMPTIONS = {
  /** One isolate per location holds the event (more isolates only split batches further). */
  isolatesPerLocation: 1,
  /** Round trip from a location to the event's objects: spread evenly over this range. */
  rttMs: [5, 150] as const,
  /** Between two objects of the event (the coordinator and a shard: same region). */
  objectRttMs: 2,
  /** Per isolate and object: calls in flight and claims per call (src/lib/claim-batcher.ts). */
  inFlight: 2,
  maxBatch: 256,
  /** Cloudflare's documented soft limit for one object. */
  objectSoftLimitRps: 1000,
};

/** A refusal the edge answers from its snapshot (no object call). */
const EDGE_ANSWER_MS = 1;

interface Call {
  loc: number;
  shard: number;
  users: { arrived: number }[];
}

type Ev =
  | { t: number; kind: "arrive"; loc: number; user: number }
  | { t: number; kind: "reach"; call: Call }
  | { t: number; kind: "back"; call: Call; answered: number[] };

/** A binary heap of events by time. */
class Heap {
  readonly #a: Ev[] = [];
  get size(): number {
    return this.#a.length;
  }
  push(e: Ev): void {
    const a = this.#a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Ev).t <= e.t) break;
      a[i] = a[p] as Ev;
      i = p;
    }
    a[i] = e;
  }
  pop(): Ev {
    const a = this.#a;
    const top = a[0] as Ev;
    const last = a.pop() as Ev;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && (a[l] as Ev).t < (m === i ? last.t : (a[m] as Ev).t)) m = l;
        if (r < a.length && (a[r] as Ev).t < (m === i ? last.t : (a[m] as Ev).t)) m = r;
        if (m === i) break;
        a[i] = a[m] as Ev;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

interface Result {
  shards: number;
  peakCallsPerObject: number;
  peakCpuShare: number;
  soldOutAtS: number;
  p50: number;
  p99: number;
  max: number;
  leases: number;
}

/** One event, `shards` objects: every user's answer time, the objects' busiest second. */
function simulate(
  shards: number,
  users: number,
  seconds: number,
  stock: number,
  locations: number,
): Result {
  const heap = new Heap();
  const rtt = Array.from(
    { length: locations },
    (_, l) =>
      ASSUMPTIONS.rttMs[0] +
      ((ASSUMPTIONS.rttMs[1] - ASSUMPTIONS.rttMs[0]) * l) / Math.max(1, locations - 1),
  );
  // Users arrive evenly over the window, from locations in turn.
  for (let u = 0; u < users; u++) {
    heap.push({ t: (u / users) * seconds * 1000, kind: "arrive", loc: u % locations, user: u });
  }
  const waiting = new Map<string, { arrived: number }[]>();
  const inFlight = new Map<string, number>();
  const busyUntil = new Array<number>(shards).fill(0);
  let coordinatorBusy = 0;
  // Each shard's leased stock; the coordinator's pool (all released at the start).
  const limit = new Array<number>(shards).fill(0);
  const issued = new Array<number>(shards).fill(0);
  let pool = stock;
  let leases = 0;
  const callsPerSecond = new Map<string, number>();
  const cpuPerSecond = new Map<string, number>();
  const latencies = new Float64Array(users);
  let answered = 0;
  let soldOutAt = Number.NaN;
  const totalIssued = () => issued.reduce((a, b) => a + b, 0);

  const send = (loc: number, shard: number, now: number) => {
    const key = `${loc}/${shard}`;
    const queue = waiting.get(key);
    if (!queue || queue.length === 0 || (inFlight.get(key) ?? 0) >= ASSUMPTIONS.inFlight) return;
    const batch = queue.splice(0, ASSUMPTIONS.maxBatch);
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    heap.push({
      t: now + (rtt[loc] as number) / 2,
      kind: "reach",
      call: { loc, shard, users: batch },
    });
  };

  /** A lease for `shard` wanting `want`: the coordinator's time, a recall when the pool is dry. */
  const lease = (shard: number, want: number, now: number): number => {
    leases += 1;
    const start = Math.max(now + ASSUMPTIONS.objectRttMs / 2, coordinatorBusy);
    coordinatorBusy = start + COST.leaseUs / 1000;
    let done = coordinatorBusy + ASSUMPTIONS.objectRttMs / 2;
    if (pool <= 0 && shards > 1) {
      // A recall: every other shard's unissued remainder comes back (one round trip).
      for (let k = 0; k < shards; k++) {
        if (k === shard) continue;
        pool += (limit[k] as number) - (issued[k] as number);
        limit[k] = issued[k] as number;
      }
      done += ASSUMPTIONS.objectRttMs;
    }
    const fair = pool < want * shards ? Math.max(1, Math.ceil(pool / shards)) : want;
    const granted = Math.max(0, Math.min(want, pool, fair));
    pool -= granted;
    limit[shard] = (limit[shard] as number) + granted;
    return done;
  };

  while (heap.size > 0) {
    const ev = heap.pop();
    if (ev.kind === "arrive") {
      // Once a refusal came back to this location, the edge refuses newcomers itself.
      if (!Number.isNaN(soldOutAt) && ev.t > soldOutAt + (rtt[ev.loc] as number)) {
        latencies[answered++] = EDGE_ANSWER_MS;
        continue;
      }
      const shard = shardOf("flash-sale", `user-${ev.user}`, shards);
      const key = `${ev.loc}/${shard}`;
      const queue = waiting.get(key) ?? [];
      queue.push({ arrived: ev.t });
      waiting.set(key, queue);
      send(ev.loc, shard, ev.t);
    } else if (ev.kind === "reach") {
      const { shard } = ev.call;
      let t = Math.max(ev.t, busyUntil[shard] as number);
      let cpu = COST.callUs;
      const n = ev.call.users.length;
      if (shards === 1) {
        const take = Math.min(n, stock - (issued[0] as number));
        issued[0] = (issued[0] as number) + take;
        cpu += take * COST.issuedUs + (n - take) * COST.refusedUs;
      } else {
        let need = n;
        while (need > 0) {
          const have = (limit[shard] as number) - (issued[shard] as number);
          const take = Math.min(need, have);
          issued[shard] = (issued[shard] as number) + take;
          cpu += take * COST.issuedUs;
          need -= take;
          if (need === 0 || totalIssued() >= stock) break;
          // No leased stock: the call waits for a lease (chunk: about half a second of claims).
          t = lease(shard, Math.max(need, Math.ceil(users / seconds / shards / 2)), t);
        }
        cpu += need * COST.refusedUs;
        // Below the low mark: a background lease, no claim waits for it.
        const chunk = Math.ceil(users / seconds / shards / 2);
        if ((limit[shard] as number) - (issued[shard] as number) < chunk / 2 && pool > 0)
          lease(shard, chunk, t);
      }
      if (Number.isNaN(soldOutAt) && totalIssued() >= stock) soldOutAt = t;
      const end = t + cpu / 1000;
      busyUntil[shard] = end;
      const second = `${shard}:${Math.floor(ev.t / 1000)}`;
      callsPerSecond.set(second, (callsPerSecond.get(second) ?? 0) + 1);
      cpuPerSecond.set(second, (cpuPerSecond.get(second) ?? 0) + cpu);
      heap.push({
        t: end + (rtt[ev.call.loc] as number) / 2,
        kind: "back",
        call: ev.call,
        answered: ev.call.users.map((u) => u.arrived),
      });
    } else {
      for (const arrived of ev.answered) latencies[answered++] = ev.t - arrived;
      const key = `${ev.call.loc}/${ev.call.shard}`;
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      send(ev.call.loc, ev.call.shard, ev.t);
    }
  }
  const sorted = latencies.slice(0, answered).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    shards,
    peakCallsPerObject: Math.max(...callsPerSecond.values()),
    peakCpuShare: Math.max(...cpuPerSecond.values()) / 1e6,
    soldOutAtS: soldOutAt / 1000,
    p50: at(0.5),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
    leases,
  };
}

const users = Number(args.users);
const seconds = Number(args.seconds);
const stock = Number(args.stock);
const locations = Number(args.locations);
const rows = [1, 4, 16, 64].map((shards) => simulate(shards, users, seconds, stock, locations));

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
console.log(
  `Capacity model: ${users.toLocaleString("en")} users in ${seconds} s from ${locations} locations, ${stock.toLocaleString("en")} coupons\n`,
);
console.log(
  "| shards | peak calls/s per object | peak CPU demand per object (one core = 100%) | sold out after | user p50 | user p99 | user max | leases |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const over =
    r.peakCallsPerObject > ASSUMPTIONS.objectSoftLimitRps ? " (over the soft limit)" : "";
  const hot = r.peakCpuShare > 1 ? " (saturated: it queues)" : "";
  console.log(
    `| ${r.shards} | ${r.peakCallsPerObject.toLocaleString("en")}${over} | ${(r.peakCpuShare * 100).toFixed(0)}%${hot} | ${r.soldOutAtS.toFixed(2)} s | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.leases.toLocaleString("en")} |`,
  );
}
console.log(`
Assumptions: objects-process CPU ${COST.issuedUs} µs per issued claim and ${COST.refusedUs} µs per refused one (measured, BENCHMARKS.md burst-10x), ${COST.callUs} µs per call and ${COST.leaseUs} µs per lease (assumed); users arrive evenly over the window; ${ASSUMPTIONS.isolatesPerLocation} isolate per location, at most ${ASSUMPTIONS.inFlight} calls in flight per isolate and object, ${ASSUMPTIONS.maxBatch} claims per call; round trip to the objects ${ASSUMPTIONS.rttMs[0]}–${ASSUMPTIONS.rttMs[1]} ms by location, ${ASSUMPTIONS.objectRttMs} ms between the event's objects; an object runs one call at a time; Cloudflare's soft limit is about ${ASSUMPTIONS.objectSoftLimitRps} requests/s per object. Once a location has seen the sell-out (one round trip after it), its edge refuses newcomers itself (1 ms, no object call).`);
