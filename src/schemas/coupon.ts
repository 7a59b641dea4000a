import { z } from "@hono/zod-openapi";
import { COUPON_STATUSES } from "../../domain/coupon.ts";

export const CouponSchema = z
  .object({
    id: z.string().openapi({
      description: "Opaque and not guessable.",
      example: "cpn_4f9K2mQxT8vLpR3nZ0aB7c.back-to-school",
    }),
    eventId: z.string(),
    userId: z.string(),
    status: z.enum(COUPON_STATUSES),
    issuedAt: z.string(),
    expiresAt: z.string().nullable(),
    redeemedAt: z.string().nullable(),
    orderId: z.string().nullable(),
    hold: z.object({ orderId: z.string(), expiresAt: z.string() }).nullable().openapi({
      description:
        "Beyond the contract: the checkout hold in force (`POST /v1/coupons/{couponId}/hold`), or null.",
    }),
  })
  .openapi("Coupon");
