/**
 * The load generator's HTTP, shared by the load test (loadtest/run.ts) and the benchmark
 * (scripts/bench-load.ts): one undici `Pool` per run (keep-alive connections opened before the
 * timed part), requests sent with the dispatch API so the moment each one is written to a
 * connection is known, nearest-rank latency percentiles, and the load test's record of every
 * answer (kind, user, status, problem slug, Retry-After, times).
 */
import { type Dispatcher, Pool } from "undici";

/** What a request is, as the page sees it. */
export type Kind = "event" | "claim" | "coupon" | "join" | "status";

export interface Answer {
  /** 0 when there was no HTTP answer (a transport error or a timeout). */
  status: number;
  /** The problem slug of a 4xx/5xx answer (`type: "/problems/<slug>"`). */
  slug?: string;
  /** The raw Retry-After header, when present. */
  retryAfter?: string;
  body: string;
  /** `UND_ERR_SOCKET`, `UND_ERR_HEADERS_TIMEOUT`...: why there was no answer. */
  error?: string;
  /** performance.now() when the request was handed to the pool (the user clicked). */
  queuedAt: number;
  /** When it was written to a connection (after any wait for a free one). */
  sentAt: number;
  /** When its answer had fully arrived, or it failed. */
  endAt: number;
}

export interface RequestRecord {
  kind: Kind;
  /** The visitor's index (-1: the tool's own requests). */
  user: number;
  /** Times in ms from the event's startsAt. */
  queuedAt: number;
  sentAt: number;
  endAt: number;
  status: number;
  slug?: string;
  retryAfter?: string;
  error?: string;
}

/** "claim 201", "claim 409 sold-out", "event 200", "coupon error UND_ERR_SOCKET"... */
export function answerKey(r: Pick<RequestRecord, "kind" | "status" | "slug" | "error">): string {
  if (r.status === 0) return `${r.kind} error ${r.error ?? "unknown"}`;
  return r.slug ? `${r.kind} ${r.status} ${r.slug}` : `${r.kind} ${r.status}`;
}

const SLUG = /"type"\s*:\s*"\/problems\/([a-z0-9-]+)"/;

export function newPool(origin: string, connections: number, timeoutMs: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 120_000,
    connect: { timeout: 10_000 },
  });
}

/**
 * One request; never rejects (failures come back with `status` 0 and `error`). `bodies:
 * "problems"` reads only problem answers' bodies (for their slug) and drops the rest unread, as
 * the benchmark does to keep the client's own cost per request low.
 */
export function send(
  pool: Dispatcher,
  path: string,
  method: "GET" | "POST",
  headers: Record<string, string>,
  body?: string,
  bodies: "all" | "problems" = "all",
): Promise<Answer> {
  const queuedAt = performance.now();
  return new Promise((resolve) => {
    let sentAt = Number.NaN;
    let status = 0;
    let retryAfter: string | undefined;
    const chunks: Buffer[] = [];
    const fail = (err: unknown) => {
      const e = err as { code?: string; name?: string; message?: string };
      const now = performance.now();
      resolve({
        status: 0,
        body: "",
        error: e.code ?? e.name ?? e.message ?? String(err),
        queuedAt,
        sentAt: Number.isNaN(sentAt) ? queuedAt : sentAt,
        endAt: now,
      });
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {
        sentAt = performance.now();
      },
      onResponseStart(_controller, statusCode, headers) {
        status = statusCode;
        const ra = headers["retry-after"];
        if (ra !== undefined) retryAfter = Array.isArray(ra) ? ra.join(",") : String(ra);
      },
      onResponseData(_controller, chunk) {
        if (bodies === "all" || status >= 400) chunks.push(chunk);
      },
      onResponseEnd() {
        const endAt = performance.now();
        const text = Buffer.concat(chunks).toString("utf8");
        const slug = status >= 400 ? SLUG.exec(text)?.[1] : undefined;
        resolve({
          status,
          slug,
          retryAfter,
          body: text,
          queuedAt,
          sentAt: Number.isNaN(sentAt) ? queuedAt : sentAt,
          endAt,
        });
      },
      onResponseError(_controller, err) {
        fail(err);
      },
    };
    try {
      pool.dispatch({ path, method, headers, body }, handler);
    } catch (err) {
      fail(err);
    }
  });
}

/** Opens `connections` keep-alive connections before the timed part (one cheap GET on each). */
export async function preconnect(pool: Pool, connections: number): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: connections }, () => send(pool, "/problems/sold-out", "GET", {})),
  );
  const failed = answers.filter((a) => a.status !== 200);
  if (failed.length > 0) {
    const a = failed[0] as Answer;
    throw new Error(
      `opening ${connections} connections: ${failed.length} failed (${a.error ?? a.status}); is the service up?`,
    );
  }
}

/** Nearest-rank percentiles of `values` (ms). */
export function percentiles(values: ArrayLike<number>): {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
} {
  const s = Array.from(values).sort((a, b) => a - b);
  const at = (q: number) =>
    s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0);
  return { count: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s.at(-1) ?? 0 };
}

/** `percentiles` to a tenth of a ms, as the reports give latencies. */
export function latencySummary(values: ArrayLike<number>): ReturnType<typeof percentiles> {
  const p = percentiles(values);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    count: p.count,
    p50: round(p.p50),
    p95: round(p.p95),
    p99: round(p.p99),
    max: round(p.max),
  };
}

/** Latency of a request: from the moment it was written to a connection to its full answer. */
export const serviceMs = (r: Pick<RequestRecord, "sentAt" | "endAt">) => r.endAt - r.sentAt;

/** Retry-After as whole seconds, or undefined when absent or not a whole number. */
export function retryAfterSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}
