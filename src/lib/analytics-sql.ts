/**
 * The request summary of the whole service for the alert rules, from the Workers Analytics Engine
 * SQL API: every isolate's data points (`src/middleware/metrics.ts`: blob1 method, blob2 route,
 * blob4 problem slug, double1 latency ms, double2 status), where `metrics.summary` sees only the
 * isolate that runs the cron. One query per evaluation: one read query a minute.
 */
import { z } from "zod";
import type { Config } from "../../platform/config.ts";
import { fetchWithTimeout } from "../../platform/timeout.ts";
import type { RouteSummary, Summary } from "./metrics.ts";

export type AnalyticsConfig = NonNullable<Config["analytics"]>;

const TIMEOUT_MS = 5_000;
/** Routes are a few dozen; the bound keeps an odd answer from growing without limit. */
const MAX_ROUTES = 500;

/**
 * Per route over the `minutes` before `now`: answers, 5xx, 503 `unavailable`, and latency
 * quantiles, each weighted by `_sample_interval` (Analytics Engine samples under load). The window
 * is explicit seconds, not `NOW()`, so the query follows the caller's clock.
 */
export function summarySql(dataset: string, minutes: number, now: number): string {
  const end = Math.floor(now / 1000);
  const start = end - minutes * 60;
  return [
    "SELECT blob1 AS method, blob2 AS route,",
    "  SUM(_sample_interval) AS requests,",
    "  SUM(IF(double2 >= 500, _sample_interval, 0)) AS errors,",
    "  SUM(IF(blob4 = 'unavailable', _sample_interval, 0)) AS unavailable,",
    "  quantileExactWeighted(0.5)(double1, _sample_interval) AS p50_ms,",
    "  quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,",
    "  quantileExactWeighted(0.99)(double1, _sample_interval) AS p99_ms",
    `FROM ${dataset}`,
    `WHERE timestamp > toDateTime(${start}) AND timestamp <= toDateTime(${end})`,
    "GROUP BY method, route",
    "ORDER BY requests DESC",
    `LIMIT ${MAX_ROUTES}`,
    "FORMAT JSON",
  ].join("\n");
}

// 64-bit integers may arrive as JSON strings.
const count = z
  .union([z.number(), z.string().trim().min(1)])
  .transform(Number)
  .pipe(z.number().min(0));
const quantile = z
  .union([z.number(), z.string(), z.null()])
  .transform((v) => (v === null ? null : Number(v)))
  .transform((n) => (n !== null && Number.isFinite(n) && n >= 0 ? n : null));

const rowSchema = z.object({
  method: z.string().max(16),
  route: z.string().max(512),
  requests: count,
  errors: count,
  unavailable: count,
  p50_ms: quantile,
  p95_ms: quantile,
  p99_ms: quantile,
});
type Row = z.output<typeof rowSchema>;

// `FORMAT JSON`: `{ meta, data, rows }`; only `data` is read, the rest may change shape.
const answerSchema = z.object({
  meta: z.array(z.object({ name: z.string() })).optional(),
  data: z.array(rowSchema).max(MAX_ROUTES),
  rows: count.optional(),
});

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const roundOrNull = (n: number | null) => (n === null ? null : round(n, 1));

/**
 * The rows as the summary the alert rules read. Not queried: answers by status, and slugs other
 * than `unavailable` (empty here); the total's quantiles (null: per-route quantiles do not add up).
 */
export function summaryFromRows(rows: Row[], minutes: number, now: number): Summary {
  const windowSeconds = minutes * 60;
  const describe = (r: Omit<Row, "method" | "route">): Omit<RouteSummary, "method" | "route"> => ({
    count: r.requests,
    rps: round(r.requests / windowSeconds, 3),
    errorRate: r.requests === 0 ? 0 : round(r.errors / r.requests, 4),
    byStatus: {},
    bySlug: r.unavailable > 0 ? { unavailable: r.unavailable } : {},
    p50Ms: roundOrNull(r.p50_ms),
    p95Ms: roundOrNull(r.p95_ms),
    p99Ms: roundOrNull(r.p99_ms),
  });
  const routes: RouteSummary[] = rows
    .map((r) => ({ method: r.method, route: r.route, ...describe(r) }))
    .sort((a, b) => {
      const ka = `${a.method} ${a.route}`;
      const kb = `${b.method} ${b.route}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  const sum = (key: "requests" | "errors" | "unavailable") => rows.reduce((n, r) => n + r[key], 0);
  const total = describe({
    requests: sum("requests"),
    errors: sum("errors"),
    unavailable: sum("unavailable"),
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
  });
  return {
    at: new Date(now).toISOString(),
    windowSeconds,
    since: new Date(now - windowSeconds * 1000).toISOString(),
    event: null,
    total,
    routes,
  };
}

/**
 * The last `minutes` of requests of every isolate, or null when the SQL API cannot say (down,
 * slow, refusing, or an answer of another shape): logged as one JSON line, never the token.
 */
export async function analyticsSummary(
  config: AnalyticsConfig,
  minutes: number,
  now: number,
  fetcher: typeof fetch = fetchWithTimeout(TIMEOUT_MS),
): Promise<Summary | null> {
  try {
    const res = await fetcher(config.sqlUrl, {
      method: "POST",
      headers: { Authorization: `Bearer ${config.token}`, "Content-Type": "text/plain" },
      body: summarySql(config.dataset, minutes, now),
    });
    if (!res.ok) {
      // Cloudflare's error answers say what was wrong (a bad token, an unknown dataset).
      const text = await res.text().catch(() => "");
      throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    const parsed = answerSchema.safeParse(await res.json());
    if (!parsed.success) {
      const at = parsed.error.issues.map((i) => i.path.join(".") || "(answer)");
      throw new Error(`unexpected answer at ${[...new Set(at)].slice(0, 5).join(", ")}`);
    }
    return summaryFromRows(parsed.data.data, minutes, now);
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "analytics sql failed",
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
    );
    return null;
  }
}
