import type { Context } from "hono";
import { fnv1a } from "../../domain/fnv.ts";
import type { HonoEnv } from "../hono-env.ts";
import type { Sample } from "../lib/metrics.ts";
import type { WaitUntil } from "../lib/wait-until.ts";

/** Answers of one kind within one second, logged as one line. */
interface Tally {
  method: string;
  route: string;
  status: number;
  slug: string;
  event: string;
  count: number;
  msSum: number;
  msMax: number;
}

/** Successes and 409s are added up over this long (a crowd's claims are thousands a second). */
const WINDOW_MS = 1_000;
/** Kinds kept per window; past it, the rest of the second's answers are counted under "other". */
const MAX_KINDS = 256;

let tallies = new Map<string, Tally>();
let windowStart = 0;

/**
 * The request log (Workers Logs indexes its fields; `observability` in wrangler.toml). Every
 * error is one JSON line: request id, route (the template, never the path: coupon ids are
 * bearer-like), status, problem slug, latency, event id and a keyed hash of the user id. 2xx and
 * 409 answers, the bulk of a crowd, are one line per second per route, status and event (count,
 * mean and max latency) unless `REQUEST_LOG=all`; `off` silences it. Never a token, a header, a
 * body, a query string or a user id in clear.
 */
export function logRequest(c: Context<HonoEnv>, sample: Sample, waitUntil?: WaitUntil): void {
  // Unset when the configuration is invalid: errors are still logged then.
  const config = c.var.services?.validConfig();
  const mode = config?.http.requestLog ?? "on";
  if (mode === "off") return;
  if (mode === "on" && (sample.status < 300 || sample.status === 409)) {
    tally(sample, waitUntil);
    return;
  }
  const userId = c.get("userId");
  console.log(
    JSON.stringify({
      level: sample.status >= 500 ? "error" : "info",
      msg: "request",
      requestId: c.get("requestId"),
      method: sample.method,
      route: sample.route,
      status: sample.status,
      slug: sample.slug || undefined,
      ms: Math.round(sample.ms * 10) / 10,
      event: sample.eventId || undefined,
      user: userId === undefined ? undefined : userHash(userId, config?.auth.jwtSecret ?? ""),
    }),
  );
}

function tally(sample: Sample, waitUntil: WaitUntil | undefined): void {
  if (tallies.size === 0) {
    windowStart = Date.now();
    // The request that opens a window also closes it, a second later, on its own timer.
    const flush = new Promise((done) => setTimeout(done, WINDOW_MS)).then(flushTallies);
    if (waitUntil) waitUntil(flush);
  } else if (Date.now() - windowStart > 2 * WINDOW_MS) {
    // The window's closer never ran (a request without waitUntil): close it now.
    flushTallies();
    tally(sample, waitUntil);
    return;
  }
  // `eventId` is set only for events the edge knows exist (metrics.ts), so invented ids add no kinds.
  const overflow = tallies.size >= MAX_KINDS;
  const event = overflow ? "other" : sample.eventId;
  const key = `${sample.method} ${sample.route} ${sample.status} ${sample.slug} ${event}`;
  let t = tallies.get(key);
  if (!t) {
    const { method, route, status, slug } = sample;
    t = { method, route, status, slug, event, count: 0, msSum: 0, msMax: 0 };
    tallies.set(key, t);
  }
  t.count += 1;
  t.msSum += sample.ms;
  if (sample.ms > t.msMax) t.msMax = sample.ms;
}

/** One line per kind of answer of the window that ends now. */
export function flushTallies(): void {
  const closing = tallies;
  const from = windowStart;
  tallies = new Map();
  for (const t of closing.values()) {
    console.log(
      JSON.stringify({
        level: "info",
        msg: "requests",
        from: new Date(from).toISOString(),
        seconds: Math.max(0.001, (Date.now() - from) / 1000),
        method: t.method,
        route: t.route,
        status: t.status,
        slug: t.slug || undefined,
        event: t.event || undefined,
        count: t.count,
        msMean: Math.round((t.msSum / t.count) * 10) / 10,
        msMax: Math.round(t.msMax * 10) / 10,
      }),
    );
  }
}

let seeds: { secret: string; a: number; b: number } | null = null;

/**
 * 64 bits of FNV-1a, seeded from the JWT secret: the same user has the same hash in every line
 * (to follow one user through an incident), and without the secret a list of known user ids
 * cannot be hashed to find who is who. Not a cryptographic guarantee: a pseudonym for logs.
 */
export function userHash(userId: string, secret: string): string {
  if (seeds?.secret !== secret) {
    seeds = { secret, a: fnv1a(`a:${secret}`), b: fnv1a(`b:${secret}`) };
  }
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return hex(fnv1a(userId, seeds.a)) + hex(fnv1a(userId, seeds.b));
}
