import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every problem the service answers with: the slugs are part of the HTTP contract (API.md). */
export const PROBLEMS = {
  "invalid-request": {
    status: 400,
    title: "Invalid request",
    description:
      "The body, path, query or a header failed validation; `errors` lists each failure. Also a body that is not valid UTF-8 JSON, and a missing Idempotency-Key where one is required.",
  },
  unauthorized: {
    status: 401,
    title: "Unauthorized",
    description:
      "The Authorization header is missing, is not `Bearer <token>`, or the token is malformed, expired, not yet valid or badly signed.",
  },
  forbidden: {
    status: 403,
    title: "Forbidden",
    description:
      "Authenticated, but this caller may not use this endpoint (a user on an operator endpoint).",
  },
  "not-found": {
    status: 404,
    title: "Not found",
    description: "Unknown event, coupon or route, or a coupon that belongs to another user.",
  },
  "method-not-allowed": {
    status: 405,
    title: "Method not allowed",
    description:
      "The path exists but does not serve this method; the Allow header lists those it does.",
  },
  "sold-out": {
    status: 409,
    title: "Sold out",
    description: "The event has no stock left and no later wave will release more.",
    detail: "Every coupon of this event has been issued.",
  },
  "awaiting-release": {
    status: 409,
    title: "Awaiting the next release",
    description:
      "The stock released so far is gone but a later wave will release more; Retry-After gives the seconds until the next wave.",
    detail: "The coupons released so far are gone; more will be released later.",
  },
  "not-started": {
    status: 409,
    title: "Not started",
    description: "The event has not started yet; Retry-After gives the seconds until it starts.",
    detail: "The event has not started yet.",
  },
  paused: {
    status: 409,
    title: "Paused",
    description: "An operator has paused the event.",
    detail: "The event is paused.",
  },
  ended: {
    status: 409,
    title: "Ended",
    description: "The event is over (after endsAt).",
    detail: "The event has ended.",
  },
  queued: {
    status: 409,
    title: "Queued",
    description:
      "The event has a waiting room and this user is not admitted (yet, or any more): a claim needs the Queue-Ticket of an admitted user; Retry-After says when to ask again.",
    detail:
      "This event has a waiting room and you are not admitted (yet, or any more): see GET /v1/events/{id}/queue/me.",
  },
  "already-redeemed": {
    status: 409,
    title: "Already redeemed",
    description: "The coupon was already used for another order.",
  },
  conflict: {
    status: 409,
    title: "Conflict",
    description: "An event with this id already exists with a different definition.",
  },
  held: {
    status: 409,
    title: "Held for another order",
    description:
      "A checkout holds this coupon for another order until its hold lapses; `hold.expiresAt` on the coupon says when.",
  },
  "not-redeemed": {
    status: 409,
    title: "Not redeemed for this order",
    description: "A restore names an order the coupon is not redeemed for.",
  },
  expired: { status: 410, title: "Expired", description: "The coupon is past its expiry." },
  "payload-too-large": {
    status: 413,
    title: "Payload too large",
    description: "The request body is over 16 KiB.",
  },
  "idempotency-key-reused": {
    status: 422,
    title: "Idempotency key reused",
    description: "This Idempotency-Key was already used with a different request body.",
  },
  "rate-limited": {
    status: 429,
    title: "Rate limited",
    description: "Over the caller's request budget; Retry-After says when to try again.",
  },
  internal: {
    status: 500,
    title: "Internal error",
    description: "Something failed inside the service; the request id identifies it in the logs.",
  },
  unavailable: {
    status: 503,
    title: "Unavailable",
    description:
      "A dependency this request needs is down or overloaded; Retry-After says when to try again.",
  },
} as const satisfies Record<
  string,
  {
    status: ContentfulStatusCode;
    title: string;
    description: string;
    /** The answer's `detail` when it is always the same (an event's refusals). */
    detail?: string;
  }
>;

export type ProblemSlug = keyof typeof PROBLEMS;

export const problemType = (slug: ProblemSlug): string => `/problems/${slug}`;

/** What `GET /problems/{slug}` answers: the problem type explained. */
export function problemPage(slug: ProblemSlug) {
  const { status, title, description } = PROBLEMS[slug];
  return { type: problemType(slug), title, status, description };
}

export interface ProblemOptions {
  detail?: string;
  /** Seconds; always sent as a whole number. */
  retryAfter?: number;
  headers?: Record<string, string>;
  /** Extra members of the problem document (`errors`, ...). */
  extra?: Record<string, unknown>;
}

/** V8's (and so workerd's) knob for how many frames a new Error records. */
const V8Error = Error as ErrorConstructor & { stackTraceLimit: number };

/** The one error type of the service: thrown anywhere, written as problem+json by `onError`. */
export class ProblemError extends HTTPException {
  readonly slug: ProblemSlug;
  readonly options: ProblemOptions;

  constructor(slug: ProblemSlug, options: ProblemOptions = {}) {
    // An answer, not a fault: skip the stack trace, a measurable cost on every refused claim.
    const limit = V8Error.stackTraceLimit;
    V8Error.stackTraceLimit = 0;
    super(PROBLEMS[slug].status, { message: options.detail ?? PROBLEMS[slug].title });
    V8Error.stackTraceLimit = limit;
    this.slug = slug;
    this.options = options;
  }
}

export function problemResponse(slug: ProblemSlug, options: ProblemOptions = {}): Response {
  const { status, title } = PROBLEMS[slug];
  const headers = new Headers({ "Content-Type": "application/problem+json" });
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
  if (options.retryAfter !== undefined) {
    headers.set("Retry-After", String(Math.max(0, Math.ceil(options.retryAfter))));
  }
  const detail = options.detail ?? title;
  return new Response(
    options.extra ? JSON.stringify(problemBody(slug, detail, options.extra)) : bodyOf(slug, detail),
    { status, headers },
  );
}

function problemBody(slug: ProblemSlug, detail: string, extra?: Record<string, unknown>) {
  const { status, title } = PROBLEMS[slug];
  return { type: problemType(slug), title, status, detail, ...extra };
}

/** Bodies that never change (a slug and its detail), serialized once; bounded by design. */
const bodies = new Map<string, string>();
const MAX_BODIES = 512;

function bodyOf(slug: ProblemSlug, detail: string): string {
  const key = `${slug}\n${detail}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = JSON.stringify(problemBody(slug, detail));
    if (bodies.size < MAX_BODIES) bodies.set(key, body);
  }
  return body;
}
