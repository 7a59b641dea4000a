import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or } from "drizzle-orm";
import { COUPON_ID_PATTERN } from "../../domain/coupon-id.ts";
import { couponView } from "../../domain/views.ts";
import { userCoupons } from "../../platform/db/schema/index.ts";
import { newRouter } from "../lib/router.ts";
import { requireUser } from "../middleware/auth.ts";
import { ProblemError } from "../problems.ts";
import { json, problem } from "../schemas/common.ts";
import { CouponSchema } from "../schemas/coupon.ts";

const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;
/** The datetime(3) column's last millisecond (9999-12-31T23:59:59.999Z): nothing issued is later. */
const MAX_ISSUED_AT = 253_402_300_799_999;

/** Keyset position: (issued_at, id) of the last item of the previous page. */
interface Position {
  issuedAt: number;
  id: string;
}

const encodeCursor = (p: Position): string =>
  btoa(JSON.stringify([p.issuedAt, p.id]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/**
 * Only a cursor this service could have issued: a whole millisecond time MySQL can hold and a
 * coupon id, encoded exactly as `encodeCursor` writes them. Anything else is the caller's 400,
 * never a value that reaches the database and fails there (a 5xx anyone could trigger).
 */
function decodeCursor(cursor: string): Position {
  try {
    const decoded: unknown = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (Array.isArray(decoded) && decoded.length === 2) {
      const [issuedAt, id] = decoded as unknown[];
      if (
        Number.isSafeInteger(issuedAt) &&
        (issuedAt as number) >= 0 &&
        (issuedAt as number) <= MAX_ISSUED_AT &&
        typeof id === "string" &&
        COUPON_ID_PATTERN.test(id)
      ) {
        const position = { issuedAt: issuedAt as number, id };
        if (encodeCursor(position) === cursor) return position;
      }
    }
  } catch {
    // Falls through to the problem below.
  }
  throw new ProblemError("invalid-request", {
    detail: "The cursor is not one this service issued.",
    extra: { errors: [{ path: "query.cursor", message: "invalid cursor" }] },
  });
}

const myCoupons = createRoute({
  method: "get",
  path: "/v1/me/coupons",
  summary: "The caller's coupons, newest first",
  description:
    "Reads the persistent store (MySQL): a claim shows up here a few seconds after it was answered. Keyset pagination on (user_id, issued_at).",
  tags: ["coupons"],
  security: [{ userToken: [] }],
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      cursor: z.string().regex(CURSOR).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: {
    200: json(
      z.object({ items: z.array(CouponSchema), nextCursor: z.string().nullable() }),
      "A page of coupons",
    ),
    400: problem("invalid-request"),
    401: problem("unauthorized"),
    503: problem("unavailable: the persistent store is not configured or not reachable"),
  },
});

export const me = newRouter().openapi(myCoupons, async (c) => {
  const { cursor, limit } = c.req.valid("query");
  const db = c.var.services.database;
  if (!db)
    throw new ProblemError("unavailable", {
      detail: "The coupon store is not configured.",
      retryAfter: 60,
    });
  const after = cursor ? decodeCursor(cursor) : null;
  const mine = eq(userCoupons.userId, c.var.userId);
  const rows = await db
    .select()
    .from(userCoupons)
    .where(
      after
        ? and(
            mine,
            or(
              lt(userCoupons.issuedAt, new Date(after.issuedAt)),
              and(eq(userCoupons.issuedAt, new Date(after.issuedAt)), lt(userCoupons.id, after.id)),
            ),
          )
        : mine,
    )
    .orderBy(desc(userCoupons.issuedAt), desc(userCoupons.id))
    .limit(limit + 1)
    .catch((err: unknown) => {
      throw new ProblemError("unavailable", {
        detail: `The coupon store did not answer (${err instanceof Error ? err.name : "error"}).`,
        retryAfter: 5,
      });
    });
  const page = rows.slice(0, limit);
  const now = Date.now();
  const items = page.map((r) =>
    couponView(
      r.eventId,
      {
        coupon_id: r.id,
        user_id: r.userId,
        issued_at: r.issuedAt.getTime(),
        expires_at: r.expiresAt?.getTime() ?? null,
        status: r.status,
        redeemed_at: r.redeemedAt?.getTime() ?? null,
        order_id: r.orderId,
        held_order_id: r.heldOrderId,
        held_until: r.heldUntil?.getTime() ?? null,
        restored_order_id: null,
        version: r.version,
      },
      now,
    ),
  );
  const last = page.at(-1);
  const nextCursor =
    rows.length > limit && last
      ? encodeCursor({ issuedAt: last.issuedAt.getTime(), id: last.id })
      : null;
  return c.json({ items, nextCursor }, 200);
});
