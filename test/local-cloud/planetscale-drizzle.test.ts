/**
 * Conformance of the PlanetScale stand-in with drizzle-orm's `planetscale-serverless` driver (on
 * the official `@planetscale/database` client), as the Worker uses it: a `mysql-core` table,
 * select/insert/update/delete, `onDuplicateKeyUpdate`, `$returningId` and SQL errors
 * (`db.transaction` is refused: the service sends single statements). Tables are `conf_d_<random>`, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { Client, DatabaseError } from "@planetscale/database";
import { asc, DrizzleQueryError, eq, inArray, like, sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  date,
  datetime,
  decimal,
  int,
  json,
  mysqlTable,
  text,
  varchar,
} from "drizzle-orm/mysql-core";
import { drizzle } from "drizzle-orm/planetscale-serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getStack } from "./stack.ts";

const stack = getStack();
const db = drizzle({ client: new Client({ url: stack.planetscale.url }) });
const name = `conf_d_${randomBytes(4).toString("hex")}`;

const items = mysqlTable(name, {
  id: bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey(),
  code: varchar("code", { length: 64 }).notNull().unique(),
  qty: int("qty").notNull().default(0),
  price: decimal("price", { precision: 12, scale: 2 }),
  big: bigint("big", { mode: "bigint" }),
  at: datetime("at", { mode: "date", fsp: 3 }),
  day: date("day", { mode: "string" }),
  note: text("note"),
  meta: json("meta").$type<{ tags: string[]; label: string }>(),
  active: boolean("active").notNull().default(true),
  version: int("version", { unsigned: true }).notNull().default(1),
});

beforeAll(async () => {
  await db.execute(
    sql.raw(`CREATE TABLE ${name} (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      code VARCHAR(64) NOT NULL,
      qty INT NOT NULL DEFAULT 0,
      price DECIMAL(12,2),
      big BIGINT,
      at DATETIME(3),
      day DATE,
      note TEXT,
      meta JSON,
      active BOOLEAN NOT NULL DEFAULT TRUE,
      version INT UNSIGNED NOT NULL DEFAULT 1,
      UNIQUE KEY ${name}_code_uq (code)
    ) DEFAULT CHARSET=utf8mb4`),
  );
});

afterAll(async () => {
  await db.execute(sql.raw(`DROP TABLE IF EXISTS ${name}`)).catch(() => undefined);
});

describe("drizzle-orm/planetscale-serverless against the stand-in", () => {
  it("inserts and selects every mapped type", async () => {
    const at = new Date("2025-12-31T23:59:58.765Z");
    const note = "한글 메모 😀 with 'quotes' and \\ backslash";
    const ids = await db
      .insert(items)
      .values([
        {
          code: "d-types",
          qty: 3,
          price: "1234567890.12",
          big: 9007199254740993n,
          at,
          day: "2024-02-29",
          note,
          meta: { tags: ["😀", "한국"], label: "x" },
          active: false,
        },
        { code: "d-nulls" },
      ])
      .$returningId();
    expect(ids).toHaveLength(2);
    const [first, second] = ids;
    expect(second?.id).toBe((first?.id ?? 0) + 1);

    const rows = await db
      .select()
      .from(items)
      .where(inArray(items.code, ["d-types", "d-nulls"]))
      .orderBy(asc(items.id));
    expect(rows).toEqual([
      {
        id: first?.id,
        code: "d-types",
        qty: 3,
        price: "1234567890.12",
        big: 9007199254740993n,
        at,
        day: "2024-02-29",
        note,
        meta: { tags: ["😀", "한국"], label: "x" },
        active: false,
        version: 1,
      },
      {
        id: second?.id,
        code: "d-nulls",
        qty: 0,
        price: null,
        big: null,
        at: null,
        day: null,
        note: null,
        meta: null,
        active: true,
        version: 1,
      },
    ]);

    const partial = await db
      .select({ code: items.code, doubled: sql<number>`${items.qty} * 2`.mapWith(Number) })
      .from(items)
      .where(eq(items.code, "d-types"));
    expect(partial).toEqual([{ code: "d-types", doubled: 6 }]);
  });

  it("updates and deletes, reporting rowsAffected", async () => {
    await db.insert(items).values([{ code: "d-upd-1" }, { code: "d-upd-2" }]);
    const upd = await db.update(items).set({ qty: 9 }).where(like(items.code, "d-upd-%"));
    expect(upd.rowsAffected).toBe(2);
    const rows = await db.select({ qty: items.qty }).from(items).where(like(items.code, "d-upd-%"));
    expect(rows).toEqual([{ qty: 9 }, { qty: 9 }]);
    const del = await db.delete(items).where(eq(items.code, "d-upd-2"));
    expect(del.rowsAffected).toBe(1);
  });

  it("upserts with onDuplicateKeyUpdate (insert 1, update 2, unchanged 0)", async () => {
    const upsert = (qty: number, version: number) =>
      db
        .insert(items)
        .values({ code: "d-upsert", qty, version })
        .onDuplicateKeyUpdate({
          set: {
            qty: sql`IF(VALUES(version) > version, VALUES(qty), qty)`,
            version: sql`GREATEST(version, VALUES(version))`,
          },
        });
    expect((await upsert(1, 1)).rowsAffected).toBe(1);
    expect((await upsert(5, 2)).rowsAffected).toBe(2);
    // An older version changes nothing.
    expect((await upsert(3, 1)).rowsAffected).toBe(0);
    const [row] = await db
      .select({ qty: items.qty, version: items.version })
      .from(items)
      .where(eq(items.code, "d-upsert"));
    expect(row).toEqual({ qty: 5, version: 2 });
  });

  it("db.transaction is refused: the stand-in keeps no session (the service never opens one)", async () => {
    const err = await db
      .transaction(async (tx) => {
        await tx.insert(items).values({ code: "d-tx" });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).body.code).toBe("UNIMPLEMENTED");
    expect(await db.select().from(items).where(eq(items.code, "d-tx"))).toEqual([]);
  });

  it("SQL errors surface as DrizzleQueryError caused by DatabaseError with MySQL's errno", async () => {
    await db.insert(items).values({ code: "d-dup" });
    let caught: unknown;
    try {
      await db.insert(items).values({ code: "d-dup" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DrizzleQueryError);
    const cause = (caught as DrizzleQueryError).cause;
    expect(cause).toBeInstanceOf(DatabaseError);
    expect((cause as DatabaseError).status).toBe(400);
    expect((cause as DatabaseError).body.code).toBe("ALREADY_EXISTS");
    expect((cause as DatabaseError).message).toContain("(errno 1062) (sqlstate 23000)");
  });
});
