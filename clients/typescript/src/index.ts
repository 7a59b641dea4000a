/**
 * A typed client of the coupon service for the checkout and other TypeScript services: the
 * calls are made with openapi-fetch over the types generated from the service's OpenAPI document
 * (src/schema.d.ts), answers 429 and 503 are retried after their `Retry-After`, and every
 * problem+json answer (RFC 9457) becomes a `CouponApiError` carrying its slug and status.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, paths };
export type Coupon = components["schemas"]["Coupon"];
export type Problem = components["schemas"]["Problem"];
export type QueueTicket = components["schemas"]["QueueTicket"];
export type QueueStatus = components["schemas"]["QueueStatus"];
export type CouponPage =
  paths["/v1/me/coupons"]["get"]["responses"][200]["content"]["application/json"];
/** Every problem type of the contract (`/problems/<slug>`), as listed by the document. */
export type ProblemSlug = paths["/problems/{slug}"]["get"]["parameters"]["path"]["slug"];

/**
 * The slugs at run time. Typed as a record over `ProblemSlug`, so `tsc` fails here when a
 * regenerated document adds or removes one.
 */
const PROBLEM_SLUGS: Record<ProblemSlug, true> = {
  "invalid-request": true,
  unauthorized: true,
  forbidden: true,
  "not-found": true,
  "method-not-allowed": true,
  "sold-out": true,
  "awaiting-release": true,
  "not-started": true,
  paused: true,
  ended: true,
  queued: true,
  "already-redeemed": true,
  conflict: true,
  held: true,
  "not-redeemed": true,
  expired: true,
  "payload-too-large": true,
  "idempotency-key-reused": true,
  "rate-limited": true,
  internal: true,
  unavailable: true,
};

export const isProblemSlug = (s: string): s is ProblemSlug => Object.hasOwn(PROBLEM_SLUGS, s);

/**
 * An error answer of the service. `slug` is the problem type's slug; `"unknown"` only when the
 * answer was not the service's problem+json (a proxy's error page, a slug newer than this client).
 */
export class CouponApiError extends Error {
  override readonly name = "CouponApiError";
  readonly slug: ProblemSlug | "unknown";
  readonly status: number;
  /** The problem+json body as sent (with `errors` on 400), or undefined when it was not one. */
  readonly problem: Problem | undefined;
  /** `Retry-After` in seconds, when the answer had one (429, 503, not-started, awaiting-release). */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: unknown, retryAfter: number | undefined) {
    const problem = asProblem(body);
    const raw = problem?.type.startsWith("/problems/") ? problem.type.slice(10) : "";
    const slug = isProblemSlug(raw) ? raw : "unknown";
    super(problem ? `${status} ${slug}: ${problem.detail}` : `${status} (not problem+json)`);
    this.slug = slug;
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** True when `err` is an answer of the service with this slug. */
  static is(err: unknown, slug?: ProblemSlug): err is CouponApiError {
    return err instanceof CouponApiError && (slug === undefined || err.slug === slug);
  }
}

function asProblem(body: unknown): Problem | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const p = body as Record<string, unknown>;
  return typeof p.type === "string" &&
    typeof p.title === "string" &&
    typeof p.status === "number" &&
    typeof p.detail === "string"
    ? (body as Problem)
    : undefined;
}

/** `Retry-After` as whole seconds (the contract never sends an HTTP date), else undefined. */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

export interface CouponClientOptions {
  /** The service's origin, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** The user's JWT for the user calls (or a function returning a fresh one). */
  token?: string | (() => string | Promise<string>);
  /** The operator token (ADMIN_TOKEN), for `restore`. */
  adminToken?: string;
  /** Attempts per call, the first included (3). 429 and 503 are retried; nothing else is. */
  maxAttempts?: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown at once (30). */
  maxRetryAfterSeconds?: number;
  /** The wait when a 429/503 has no usable `Retry-After` (1 s). */
  defaultRetryAfterSeconds?: number;
  /** Injectable for tests. */
  fetch?: (request: Request) => Promise<Response>;
  /** Injectable for tests: waits `ms` milliseconds. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RedeemOptions {
  /**
   * The key of this logical redeem. Generated (crypto.randomUUID) when omitted and reused by
   * every retry of this call; pass your own (e.g. stored with the order) to make a redeem retried
   * after a crash of your process answer the same.
   */
  idempotencyKey?: string;
}

const RETRIED = new Set([429, 503]);

export class CouponClient {
  /** The underlying openapi-fetch client (retrying like the methods), for any other route. */
  readonly api: Client<paths>;
  readonly #opts: CouponClientOptions;

  constructor(opts: CouponClientOptions) {
    this.#opts = opts;
    const base = opts.fetch ?? ((request: Request) => globalThis.fetch(request));
    this.api = createClient<paths>({
      baseUrl: opts.baseUrl.replace(/\/+$/, ""),
      fetch: (request) => this.#retrying(request, base),
    });
  }

  /**
   * Claims a coupon of the event: `created` is false when the user already held it (200). When
   * the service runs with Turnstile, pass a fresh widget token: each is good for one claim (a
   * retry after 503 may reuse it; after a 403 `forbidden` get a new one).
   */
  async claim(
    eventId: string,
    opts: { turnstileToken?: string; queueTicket?: string } = {},
  ): Promise<{ coupon: Coupon; created: boolean }> {
    const header = {
      ...(opts.turnstileToken ? { "CF-Turnstile-Response": opts.turnstileToken } : {}),
      ...(opts.queueTicket ? { "Queue-Ticket": opts.queueTicket } : {}),
    };
    const res = await this.api.POST("/v1/events/{id}/claims", {
      params: { path: { id: eventId }, header },
      headers: await this.#user(),
    });
    return { coupon: ok(res), created: res.response.status === 201 };
  }

  /**
   * Joins the event's waiting room (from `queue.opensAt`): keep `ticket` for `queueStatus` and
   * `claim`. Pass an earlier ticket to get the same one back (`created` false).
   */
  async joinQueue(
    eventId: string,
    ticket?: string,
  ): Promise<{ ticket: QueueTicket; created: boolean }> {
    const res = await this.api.POST("/v1/events/{id}/queue", {
      params: { path: { id: eventId }, header: ticket ? { "Queue-Ticket": ticket } : {} },
      headers: await this.#user(),
    });
    return { ticket: ok(res), created: res.response.status === 201 };
  }

  /** The user's place in the waiting room; `retryAfter` (seconds) says when to ask again. */
  async queueStatus(
    eventId: string,
    ticket: string,
  ): Promise<{ status: QueueStatus; retryAfter: number | undefined }> {
    const res = await this.api.GET("/v1/events/{id}/queue/me", {
      params: { path: { id: eventId }, header: { "Queue-Ticket": ticket } },
      headers: await this.#user(),
    });
    const after = res.response.headers.get("Retry-After");
    return { status: ok(res), retryAfter: after === null ? undefined : Number(after) };
  }

  /** The user's coupon of the event; 404 `not-found` when the user holds none. */
  async myCoupon(eventId: string): Promise<Coupon> {
    return ok(
      await this.api.GET("/v1/events/{id}/claims/me", {
        params: { path: { id: eventId } },
        headers: await this.#user(),
      }),
    );
  }

  /** A page of the user's coupons, newest first (from the persistent store: may lag a claim). */
  async coupons(cursor?: string, limit?: number): Promise<CouponPage> {
    return ok(
      await this.api.GET("/v1/me/coupons", {
        params: { query: { cursor, limit } },
        headers: await this.#user(),
      }),
    );
  }

  /** One coupon of the user, as it is now. */
  async coupon(couponId: string): Promise<Coupon> {
    return ok(
      await this.api.GET("/v1/coupons/{couponId}", {
        params: { path: { couponId } },
        headers: await this.#user(),
      }),
    );
  }

  /** Holds the coupon for an order during the payment; the hold lapses after `ttlSeconds`. */
  async hold(couponId: string, orderId: string, ttlSeconds: number): Promise<Coupon> {
    return ok(
      await this.api.POST("/v1/coupons/{couponId}/hold", {
        params: { path: { couponId } },
        body: { orderId, ttlSeconds },
        headers: await this.#user(),
      }),
    );
  }

  /** Redeems the coupon for an order, with one Idempotency-Key for this call and its retries. */
  async redeem(couponId: string, orderId: string, opts: RedeemOptions = {}): Promise<Coupon> {
    const key = opts.idempotencyKey ?? crypto.randomUUID();
    return ok(
      await this.api.POST("/v1/coupons/{couponId}/redeem", {
        params: { path: { couponId }, header: { "Idempotency-Key": key } },
        body: { orderId },
        headers: await this.#user(),
      }),
    );
  }

  /** Operator: gives a redeemed coupon back (the order was cancelled). Needs `adminToken`. */
  async restore(couponId: string, orderId: string): Promise<Coupon> {
    const admin = this.#opts.adminToken;
    if (admin === undefined) throw new Error("restore needs the operator token (adminToken)");
    return ok(
      await this.api.POST("/v1/coupons/{couponId}/restore", {
        params: { path: { couponId } },
        body: { orderId },
        headers: { Authorization: `Bearer ${admin}` },
      }),
    );
  }

  async #user(): Promise<{ Authorization: string }> {
    const { token } = this.#opts;
    if (token === undefined) throw new Error("this call needs a user token (token)");
    return { Authorization: `Bearer ${typeof token === "string" ? token : await token()}` };
  }

  /** Sends the request, again after `Retry-After` while it answers 429/503, within the bounds. */
  async #retrying(request: Request, send: (r: Request) => Promise<Response>): Promise<Response> {
    const max = Math.max(1, this.#opts.maxAttempts ?? 3);
    const longest = this.#opts.maxRetryAfterSeconds ?? 30;
    const sleep = this.#opts.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms)));
    for (let attempt = 1; ; attempt++) {
      // A clone per attempt: the body (same bytes, same Idempotency-Key) can be sent again.
      const res = await send(attempt < max ? request.clone() : request);
      if (!RETRIED.has(res.status) || attempt >= max) return res;
      const wait =
        retryAfterSeconds(res.headers.get("Retry-After")) ??
        this.#opts.defaultRetryAfterSeconds ??
        1;
      if (wait > longest) return res;
      await res.body?.cancel();
      await sleep(wait * 1000);
    }
  }
}

/** The data of a success, or the answer turned into a `CouponApiError`. */
function ok<T>(res: { data?: T; error?: unknown; response: Response }): T {
  if (res.response.ok && res.data !== undefined) return res.data;
  throw new CouponApiError(
    res.response.status,
    res.error,
    retryAfterSeconds(res.response.headers.get("Retry-After")),
  );
}
