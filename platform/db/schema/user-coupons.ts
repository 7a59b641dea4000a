import { sql } from "drizzle-orm";
import { datetime, index, int, mysqlTable, uniqueIndex, varchar } from "drizzle-orm/mysql-core";
import type { CouponStatus } from "../../../domain/coupon.ts";
import { binaryText } from "./binary-text.ts";

/**
 * One row per coupon (API.md "Downstream records"). Written by the MySQL sink with idempotent
 * upserts: `version` is monotonic per coupon, so a late or repeated delivery of an older change
 * never regresses a row.
 */
export const userCoupons = mysqlTable(
  "user_coupons",
  {
    // Identifiers are byte-exact (binary-text.ts says why): never a collated varchar here.
    /** `cpn_` + 22 base62 characters + `.` + the event id (case matters). */
    id: binaryText("id", { bytes: 96 }).primaryKey(),
    eventId: binaryText("event_id", { bytes: 64 }).notNull(),
    /** The JWT `sub`: up to 128 characters, 4 UTF-8 bytes each at most. */
    userId: binaryText("user_id", { bytes: 512 }).notNull(),
    status: varchar("status", { length: 16 }).$type<CouponStatus>().notNull(),
    issuedAt: datetime("issued_at", { mode: "date", fsp: 3 }).notNull(),
    expiresAt: datetime("expires_at", { mode: "date", fsp: 3 }),
    redeemedAt: datetime("redeemed_at", { mode: "date", fsp: 3 }),
    orderId: binaryText("order_id", { bytes: 512 }),
    /** The order a checkout hold reserves the coupon for, until `held_until`. */
    heldOrderId: binaryText("held_order_id", { bytes: 512 }),
    heldUntil: datetime("held_until", { mode: "date", fsp: 3 }),
    version: int("version", { unsigned: true }).notNull().default(1),
    updatedAt: datetime("updated_at", { mode: "date", fsp: 3 })
      .notNull()
      .default(sql`CURRENT_TIMESTAMP(3)`),
  },
  (t) => [
    uniqueIndex("user_coupons_event_user_uq").on(t.eventId, t.userId),
    index("user_coupons_user_issued_idx").on(t.userId, t.issuedAt),
  ],
);
