import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { CouponView } from "../../domain/coupon.ts";
import { eventOfCoupon } from "../../domain/coupon-id.ts";
import type { LifecycleAnswer } from "../../domain/coupon-lifecycle.ts";
import {
  HOLD_TTL_MAX_SECONDS,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  isWellFormed,
  ORDER_ID_MAX_LENGTH,
  WELL_FORMED_RULE,
} from "../../domain/identifiers.ts";
import { assertNever } from "../../domain/ledger.ts";
import { userCoupons } from "../../platform/db/schema/index.ts";
import type { HonoEnv } from "../hono-env.ts";
import { newRouter } from "../lib/router.ts";
import { requireOperator, requireUser } from "../middleware/auth.ts";
import { jsonBody } from "../middleware/json-body.ts";
import { limitClaimsPerUser } from "../middleware/rate-limit.ts";
import { ProblemError } from "../problems.ts";
import { json, problem } from "../schemas/common.ts";
import { CouponSchema } from "../schemas/coupon.ts";

// Ids are opaque to clients (API.md): one of any shape is an unknown coupon, a 404, never a 400.
const CouponIdParam = z.object({
  couponId: z.string().openapi({
    param: { name: "couponId", in: "path" },
    example: "cpn_4f9K2mQxT8vLpR3nZ0aB7c.back-to-school",
  }),
});

const OrderId = z
  .string()
  .min(1)
  .max(ORDER_ID_MAX_LENGTH)
  .refine(isWellFormed, WELL_FORMED_RULE)
  .openapi({ example: "order-2026-0001" });

/** RFC 9110 token or RFC 8941 quoted string, as clients send `Idempotency-Key`. */
const IdempotencyKeyHeader = z.object({
  "Idempotency-Key": z
    .string()
    .min(1)
    .max(IDEMPOTENCY_KEY_MAX_LENGTH + 2)
    .openapi({ example: '"8e0f0c6e-5c8a-4f0b-9d1e-2b7d3c1f9a10"' }),
});

function idempotencyKey(header: string): string {
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(header);
  const key = quoted ? (quoted[1] ?? "").replace(/\\(.)/g, "$1") : header;
  if (
    key.length < 1 ||
    key.length > IDEMPOTENCY_KEY_MAX_LENGTH ||
    (!quoted && /["\s]/.test(key)) ||
    !isWellFormed(key)
  ) {
    const rule = `1..${IDEMPOTENCY_KEY_MAX_LENGTH} characters, well-formed Unicode`;
    throw new ProblemError("invalid-request", {
      detail: `Idempotency-Key must be ${rule}, bare or as a quoted string.`,
      extra: { errors: [{ path: "header.idempotency-key", message: rule }] },
    });
  }
  return key;
}

const user = [{ userToken: [] }];
const operator = [{ adminToken: [] }];

const lifecycleProblems = {
  400: problem("invalid-request"),
  401: problem("unauthorized"),
  404: problem("not-found: no such coupon, or another user's"),
  429: problem("rate-limited"),
  503: problem("unavailable"),
} as const;

const getCoupon = createRoute({
  method: "get",
  path: "/v1/coupons/{couponId}",
  summary: "Read one of the caller's coupons",
  tags: ["coupons"],
  security: user,
  middleware: [requireUser] as const,
  request: { params: CouponIdParam },
  responses: { 200: json(CouponSchema, "The coupon"), ...lifecycleProblems },
});

const redeem = createRoute({
  method: "post",
  path: "/v1/coupons/{couponId}/redeem",
  summary: "Redeem a coupon at checkout",
  description:
    "By the coupon's owner, with an `Idempotency-Key` (1..255 characters, bare or quoted; scoped to the caller and the coupon). A retry with the same key and order answers the same coupon; the same key with another order is 422. A coupon held for another order is 409 `held`.",
  tags: ["coupons"],
  security: user,
  middleware: [requireUser, limitClaimsPerUser, jsonBody] as const,
  request: {
    params: CouponIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ orderId: OrderId }).strict() } },
    },
  },
  responses: {
    200: json(CouponSchema, "Redeemed for this order"),
    ...lifecycleProblems,
    409: problem("already-redeemed (for another order) · held (for another order)"),
    410: problem("expired"),
    422: problem("idempotency-key-reused"),
  },
});

const hold = createRoute({
  method: "post",
  path: "/v1/coupons/{couponId}/hold",
  summary: "Hold a coupon while an order's payment runs (beyond the contract)",
  description:
    "Reserves the owner's coupon for one order for `ttlSeconds` (1..3600). Redeeming that order confirms it; the hold lapses by itself after the TTL, so a checkout that crashes mid-payment never burns the coupon. Holding again for the same order extends it; a hold or redeem for another order is 409 `held` until then.",
  tags: ["coupons"],
  security: user,
  middleware: [requireUser, limitClaimsPerUser, jsonBody] as const,
  request: {
    params: CouponIdParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              orderId: OrderId,
              ttlSeconds: z
                .number()
                .int()
                .min(1)
                .max(HOLD_TTL_MAX_SECONDS)
                .openapi({ example: 600 }),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    200: json(CouponSchema, "Held for this order"),
    ...lifecycleProblems,
    409: problem("already-redeemed · held (for another order)"),
    410: problem("expired"),
  },
});

const restore = createRoute({
  method: "post",
  path: "/v1/coupons/{couponId}/restore",
  summary: "Restore a redeemed coupon (the order was cancelled)",
  description:
    "Operator only. Back to `issued` when redeemed for this order; repeating it is harmless.",
  tags: ["coupons"],
  security: operator,
  middleware: [requireOperator, jsonBody] as const,
  request: {
    params: CouponIdParam,
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ orderId: OrderId }).strict() } },
    },
  },
  responses: {
    200: json(CouponSchema, "Issued again"),
    ...lifecycleProblems,
    403: problem("forbidden"),
    409: problem("not-redeemed: not redeemed for this order"),
  },
});

const notFound = () =>
  new ProblemError("not-found", { detail: "You hold no coupon with this id." });

/**
 * The event a coupon belongs to, from its id alone; ids of the first format (no event suffix)
 * are looked up in MySQL once.
 */
async function eventOf(c: Context<HonoEnv>, couponId: string): Promise<string> {
  const routed = eventOfCoupon(couponId);
  if (routed === null) throw notFound();
  if (routed !== "legacy") return routed;
  const db = c.var.services.database;
  const row = db
    ? (
        await db
          .select({ eventId: userCoupons.eventId })
          .from(userCoupons)
          .where(eq(userCoupons.id, couponId))
          .limit(1)
          .catch(() => {
            throw new ProblemError("unavailable", {
              detail: "The coupon store did not answer.",
              retryAfter: 5,
            });
          })
      )[0]
    : undefined;
  if (!row) throw notFound();
  return row.eventId;
}

function answer(result: LifecycleAnswer | null): CouponView {
  if (!result) throw notFound();
  switch (result.outcome) {
    case "ok":
      return result.coupon;
    case "unknown-event":
      throw notFound();
    case "refused":
      throw refusal(result.slug);
    default:
      return assertNever(result);
  }
}

function refusal(slug: Extract<LifecycleAnswer, { outcome: "refused" }>["slug"]): ProblemError {
  switch (slug) {
    case "not-found":
      return notFound();
    case "already-redeemed":
      return new ProblemError(slug, { detail: "The coupon was already used for another order." });
    case "expired":
      return new ProblemError(slug, { detail: "The coupon is past its expiry." });
    case "held":
      return new ProblemError(slug, { detail: "The coupon is held for another order." });
    case "not-redeemed":
      return new ProblemError(slug, { detail: "The coupon is not redeemed for this order." });
    case "idempotency-key-reused":
      return new ProblemError(slug, {
        detail: "This Idempotency-Key was already used for another order.",
      });
    default:
      return assertNever(slug);
  }
}

export const coupons = newRouter()
  .openapi(getCoupon, async (c) => {
    const { couponId } = c.req.valid("param");
    const eventId = await eventOf(c, couponId);
    const coupon = await c.var.services.events.coupon(eventId, couponId, c.var.userId);
    if (!coupon) throw notFound();
    return c.json(coupon, 200);
  })
  .openapi(redeem, async (c) => {
    const { couponId } = c.req.valid("param");
    const key = idempotencyKey(c.req.valid("header")["Idempotency-Key"]);
    const { orderId } = c.req.valid("json");
    const eventId = await eventOf(c, couponId);
    const result = await c.var.services.events.redeem(eventId, {
      couponId,
      userId: c.var.userId,
      orderId,
      idempotencyKey: key,
    });
    return c.json(answer(result), 200);
  })
  .openapi(hold, async (c) => {
    const { couponId } = c.req.valid("param");
    const { orderId, ttlSeconds } = c.req.valid("json");
    const eventId = await eventOf(c, couponId);
    const result = await c.var.services.events.hold(eventId, {
      couponId,
      userId: c.var.userId,
      orderId,
      ttlSeconds,
    });
    return c.json(answer(result), 200);
  })
  .openapi(restore, async (c) => {
    const { couponId } = c.req.valid("param");
    const { orderId } = c.req.valid("json");
    const eventId = await eventOf(c, couponId);
    const result = await c.var.services.events.restore(eventId, { couponId, orderId });
    return c.json(answer(result), 200);
  });
