/**
 * The per-isolate request aggregate: what every request recorded (route, status, problem slug,
 * latency, event id), as cumulative counters and histograms for the Prometheus text, and as
 * one-minute slots for the summary of the last minutes and the alerts.
 *
 * Recording is on the claim path, so it is a handful of map updates and array increments: fixed
 * histogram buckets, no allocation beyond a key string, no await. Plain TypeScript (no Workers
 * API), so Node tests can drive it with their own clock.
 *
 * In production every isolate has its own aggregate (each request is also written to Workers
 * Analytics Engine, which sees all of them); locally `workerd serve` runs one isolate for the
 * front Worker, so this is the whole picture.
 */

/** Upper bounds (ms) of the latency buckets; the last, implicit bucket is +Inf. */
export const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000] as const;
const SLOT_MS = 60_000;
/** One-minute slots kept for the summary and the alerts. */
export const WINDOW_MINUTES = 15;
/**
 * Events with their own counters (only events the edge knows exist are ever recorded); past it,
 * the least recently counted event's counters go.
 */
const MAX_EVENTS = 1000;
/** Per-event route slots of one minute; past it, that minute's further events count in the total only. */
const MAX_EVENT_ROUTES = 4000;

export interface Sample {
  method: string;
  /** The matched route as written in the OpenAPI document (`/v1/events/{id}`), or `unmatched`. */
  route: string;
  status: number;
  /** The problem's slug for a problem answer, else "". */
  slug: string;
  ms: number;
  /** The event the request was about, when it exists (the edge knows it), or "". */
  eventId: string;
}

class Histogram {
  /** Per bucket (not cumulative), the last one being +Inf. */
  readonly counts = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < BUCKETS_MS.length && ms > (BUCKETS_MS[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += ms;
    this.count++;
  }

  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    }
    this.sum += other.sum;
    this.count += other.count;
  }

  /**
   * The q-quantile (0..1) in ms, interpolated linearly inside its bucket as Prometheus'
   * histogram_quantile does; the +Inf bucket answers the largest finite bound.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i] as number;
      if (inBucket > 0 && seen + inBucket >= rank) {
        if (i === BUCKETS_MS.length) return BUCKETS_MS[BUCKETS_MS.length - 1] as number;
        const lower = i === 0 ? 0 : (BUCKETS_MS[i - 1] as number);
        const upper = BUCKETS_MS[i] as number;
        return lower + ((upper - lower) * (rank - seen)) / inBucket;
      }
      seen += inBucket;
    }
    return BUCKETS_MS[BUCKETS_MS.length - 1] as number;
  }
}

interface RouteSlot {
  count: number;
  /** 5xx answers: the service failed the caller. */
  errors: number;
  byStatus: Map<number, number>;
  bySlug: Map<string, number>;
  latency: Histogram;
}

const newRouteSlot = (): RouteSlot => ({
  count: 0,
  errors: 0,
  byStatus: new Map(),
  bySlug: new Map(),
  latency: new Histogram(),
});

interface Slot {
  minute: number;
  routes: Map<string, RouteSlot>;
  /** `eventId method route` → the same, for requests about one event. */
  eventRoutes: Map<string, RouteSlot>;
}

function observe(route: RouteSlot, s: Sample): void {
  route.count++;
  if (s.status >= 500) route.errors++;
  inc(route.byStatus, s.status);
  if (s.slug !== "") inc(route.bySlug, s.slug);
  route.latency.observe(s.ms);
}

export interface RouteSummary {
  method: string;
  route: string;
  count: number;
  /** Requests per second over the window. */
  rps: number;
  /** 5xx answers over all answers, 0..1. */
  errorRate: number;
  byStatus: Record<string, number>;
  bySlug: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface Summary {
  /** When the summary was taken (ISO 8601). */
  at: string;
  windowSeconds: number;
  /** Since this isolate started recording. */
  since: string;
  /** Only the requests about this event, when asked. */
  event: string | null;
  total: Omit<RouteSummary, "method" | "route">;
  routes: RouteSummary[];
}

const inc = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

export class MetricsStore {
  /** `method route status slug` → answers since start. */
  private readonly requests = new Map<string, number>();
  /** `method route` → latency since start. */
  private readonly latency = new Map<string, Histogram>();
  /** event id → `status slug` → answers since start; least recently counted first. */
  private readonly events = new Map<string, Map<string, number>>();
  /** Ring of one-minute slots. */
  private readonly slots: (Slot | undefined)[] = new Array(WINDOW_MINUTES);
  /**
   * When recording started: the first sample, unless given. (A Worker's clock reads 0 at module
   * scope, where the shared aggregate is built.)
   */
  private startedAt: number | null;

  constructor(now?: number) {
    this.startedAt = now ?? null;
  }

  record(s: Sample, now: number = Date.now()): void {
    this.startedAt ??= now;
    const routeKey = `${s.method} ${s.route}`;
    inc(this.requests, `${routeKey} ${s.status} ${s.slug}`);
    entry(this.latency, routeKey, () => new Histogram()).observe(s.ms);

    const minute = Math.floor(now / SLOT_MS);
    const index = minute % WINDOW_MINUTES;
    let slot = this.slots[index];
    if (!slot || slot.minute !== minute) {
      slot = { minute, routes: new Map(), eventRoutes: new Map() };
      this.slots[index] = slot;
    }
    observe(entry(slot.routes, routeKey, newRouteSlot), s);

    if (s.eventId !== "") {
      let counts = this.events.get(s.eventId);
      if (counts) {
        this.events.delete(s.eventId);
      } else {
        counts = new Map<string, number>();
        const oldest = this.events.keys().next().value;
        if (this.events.size >= MAX_EVENTS && oldest !== undefined) this.events.delete(oldest);
      }
      this.events.set(s.eventId, counts);
      inc(counts, `${s.status} ${s.slug}`);
      const key = `${s.eventId} ${routeKey}`;
      const perEvent = slot.eventRoutes.get(key);
      if (perEvent) observe(perEvent, s);
      else if (slot.eventRoutes.size < MAX_EVENT_ROUTES) {
        observe(entry(slot.eventRoutes, key, newRouteSlot), s);
      }
    }
  }

  /**
   * The last `minutes` one-minute slots (the current, partial one included), per route; only the
   * requests about `eventId` when given.
   */
  summary(minutes = 5, now: number = Date.now(), eventId?: string): Summary {
    const prefix = eventId === undefined ? "" : `${eventId} `;
    const span = Math.max(1, Math.min(WINDOW_MINUTES, Math.floor(minutes)));
    const current = Math.floor(now / SLOT_MS);
    const merged = new Map<string, RouteSlot>();
    for (const slot of this.slots) {
      if (!slot || slot.minute <= current - span || slot.minute > current) continue;
      for (const [fullKey, from] of prefix === "" ? slot.routes : slot.eventRoutes) {
        if (!fullKey.startsWith(prefix)) continue;
        const to = entry(merged, fullKey.slice(prefix.length), newRouteSlot);
        to.count += from.count;
        to.errors += from.errors;
        for (const [status, n] of from.byStatus) inc(to.byStatus, status, n);
        for (const [slug, n] of from.bySlug) inc(to.bySlug, slug, n);
        to.latency.add(from.latency);
      }
    }
    // The window is the span's full minutes, less what this isolate has not lived through.
    const windowMs = Math.max(
      1000,
      Math.min(span * SLOT_MS - (SLOT_MS - (now % SLOT_MS)), now - (this.startedAt ?? now)),
    );
    const describe = (r: RouteSlot) => ({
      count: r.count,
      rps: round((r.count * 1000) / windowMs, 3),
      errorRate: r.count === 0 ? 0 : round(r.errors / r.count, 4),
      byStatus: Object.fromEntries([...r.byStatus].sort(([a], [b]) => a - b)),
      bySlug: Object.fromEntries([...r.bySlug].sort()),
      p50Ms: roundOrNull(r.latency.quantile(0.5)),
      p95Ms: roundOrNull(r.latency.quantile(0.95)),
      p99Ms: roundOrNull(r.latency.quantile(0.99)),
    });
    const total = newRouteSlot();
    const routes: RouteSummary[] = [];
    for (const [key, r] of [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const space = key.indexOf(" ");
      routes.push({ method: key.slice(0, space), route: key.slice(space + 1), ...describe(r) });
      total.count += r.count;
      total.errors += r.errors;
      for (const [status, n] of r.byStatus) inc(total.byStatus, status, n);
      for (const [slug, n] of r.bySlug) inc(total.bySlug, slug, n);
      total.latency.add(r.latency);
    }
    return {
      at: new Date(now).toISOString(),
      windowSeconds: round(windowMs / 1000, 3),
      since: new Date(this.startedAt ?? now).toISOString(),
      event: eventId ?? null,
      total: describe(total),
      routes,
    };
  }

  /** The events this isolate has answered about, most requests first. */
  eventIds(limit = 100): string[] {
    return [...this.events]
      .map(([id, counts]) => [id, [...counts.values()].reduce((a, b) => a + b, 0)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([id]) => id);
  }

  /** Prometheus text exposition (format 0.0.4) of the cumulative counters and histograms. */
  prometheus(extra: PrometheusFamily[] = []): string {
    const lines: string[] = [];
    lines.push(
      "# HELP coupon_http_requests_total Answers by route, status and problem slug since the isolate started.",
      "# TYPE coupon_http_requests_total counter",
    );
    for (const [key, n] of [...this.requests].sort()) {
      const [method, route, status, slug] = key.split(" ");
      lines.push(`coupon_http_requests_total${labels({ method, route, status, slug })} ${n}`);
    }
    lines.push(
      "# HELP coupon_http_request_duration_seconds Latency by route (Worker wall time).",
      "# TYPE coupon_http_request_duration_seconds histogram",
    );
    for (const [key, h] of [...this.latency].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [method, route] = key.split(" ");
      let cumulative = 0;
      BUCKETS_MS.forEach((bound, i) => {
        cumulative += h.counts[i] as number;
        const le = String(bound / 1000);
        lines.push(
          `coupon_http_request_duration_seconds_bucket${labels({ method, route, le })} ${cumulative}`,
        );
      });
      lines.push(
        `coupon_http_request_duration_seconds_bucket${labels({ method, route, le: "+Inf" })} ${h.count}`,
        `coupon_http_request_duration_seconds_sum${labels({ method, route })} ${h.sum / 1000}`,
        `coupon_http_request_duration_seconds_count${labels({ method, route })} ${h.count}`,
      );
    }
    lines.push(
      "# HELP coupon_event_requests_total Answers about each event by status and problem slug (claims, reads, operator calls).",
      "# TYPE coupon_event_requests_total counter",
    );
    for (const [event, counts] of [...this.events].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const [key, n] of [...counts].sort()) {
        const [status, slug] = key.split(" ");
        lines.push(`coupon_event_requests_total${labels({ event, status, slug })} ${n}`);
      }
    }
    for (const family of extra) {
      lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      for (const s of family.samples) lines.push(`${family.name}${labels(s.labels)} ${s.value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

export interface PrometheusFamily {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: { labels: Record<string, string>; value: number }[];
}

/** `{a="1",b="2"}`, values escaped as the exposition format requires. */
function labels(values: Record<string, string | undefined>): string {
  const parts = Object.entries(values).map(
    ([name, value]) =>
      `${name}="${(value ?? "").replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`,
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const roundOrNull = (n: number | null) => (n === null ? null : round(n, 1));

/** This isolate's aggregate, which the middleware records into and the admin routes read. */
export const metrics = new MetricsStore();
