import { sql } from "drizzle-orm";
import { datetime, int, json, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { binaryText } from "./binary-text.ts";

/** A release of stock: `quantity` coupons become claimable at `at` (ISO 8601). */
interface EventWave {
  at: string;
  quantity: number;
}

/** One row per coupon event: its definition, as the Durable Object that owns it holds it. */
export const couponEvents = mysqlTable("coupon_events", {
  /** Byte-exact like every identifier (binary-text.ts). */
  id: binaryText("id", { bytes: 64 }).primaryKey(),
  name: varchar("name", { length: 200 }).notNull(),
  totalStock: int("total_stock", { unsigned: true }).notNull(),
  startsAt: datetime("starts_at", { mode: "date", fsp: 3 }).notNull(),
  endsAt: datetime("ends_at", { mode: "date", fsp: 3 }),
  couponExpiresAt: datetime("coupon_expires_at", { mode: "date", fsp: 3 }),
  waves: json("waves").$type<EventWave[]>().notNull(),
  createdAt: datetime("created_at", { mode: "date", fsp: 3 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(3)`),
  updatedAt: datetime("updated_at", { mode: "date", fsp: 3 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(3)`),
});
