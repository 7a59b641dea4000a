import { z } from "@hono/zod-openapi";

export const CouponSchema = z
  .object({
    id: z.string().openapi({ description: "Opaque and not guessable.", example: "cpn_4f9K2..." }),
    eventId: z.string(),
    userId: z.string(),
    status: z.enum(["issued", "redeemed", "expired"]),
    issuedAt: z.string(),
    expiresAt: z.string().nullable(),
    redeemedAt: z.string().nullable(),
    orderId: z.string().nullable(),
  })
  .openapi("Coupon");
