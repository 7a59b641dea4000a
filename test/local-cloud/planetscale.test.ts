/**
 * Conformance of the PlanetScale stand-in with the official client, `@planetscale/database`,
 * used exactly as against the real service (only the URL differs). Each test works in tables of
 * its own (`conf_<random>`), dropped afterwards. MariaDB is also read directly (mysql2) to check
 * that what the API refuses changed nothing.
 */
import { randomBytes } from "node:crypto";
import { Client, DatabaseError } from "@planetscale/database";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlFetch } from "../../local/gateway/control-client.ts";
import { getStack } from "./stack.ts";

const stack = getStack();
const url = stack.planetscale.url;
const client = new Client({ url });
const suffix = randomBytes(4).toString("hex");
const T = `conf_${suffix}`;
const types = `conf_types_${suffix}`;

let direct: mysql.Connection;

async function rejection(p: Promise<unknown>): Promise<DatabaseError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseError);
    return err as DatabaseError;
  }
  throw new Error("expected the promise to reject");
}

async function directCount(where: string): Promise<number> {
  const [rows] = await direct.query(`SELECT COUNT(*) AS n FROM ${T} WHERE ${where}`);
  return Number((rows as { n: number }[])[0]?.n);
}

beforeAll(async () => {
  direct = await mysql.createConnection({ ...stack.mysql, dateStrings: true });
  await client.execute(
    `CREATE TABLE ${T} (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      code VARCHAR(64) NOT NULL UNIQUE,
      qty INT NOT NULL DEFAULT 0
    ) DEFAULT CHARSET=utf8mb4`,
  );
  await client.execute(
    `CREATE TABLE ${types} (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      i INT, ti TINYINT, ui INT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED,
      dec1 DECIMAL(20,6), dbl DOUBLE, d DATE, dt DATETIME(3), yr YEAR,
      txt VARCHAR(255), tx TEXT, vb VARBINARY(64), bl BLOB, js JSON, flag BOOLEAN
    ) DEFAULT CHARSET=utf8mb4`,
  );
});

afterAll(async () => {
  await client.execute(`DROP TABLE IF EXISTS ${T}, ${types}`).catch(() => undefined);
  await direct?.end();
});

describe("types round-trip", () => {
  const text = "쿠폰 발급 완료 🎉🎟️ — naïve café 한국어";
  const bytes = Uint8Array.from([0, 1, 2, 127, 128, 200, 255, 0, 10, 13, 39, 92]);

  it("decodes every column type as the client documents", async () => {
    const ins = await client.execute(
      `INSERT INTO ${types} (i, ti, ui, bi, ubi, dec1, dbl, d, dt, yr, txt, tx, vb, bl, js, flag)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        -2147483648,
        -128,
        4294967295,
        "9007199254740993",
        "18446744073709551615",
        "12345678901234.567891",
        1.5e-7,
        "2024-02-29",
        new Date("2024-02-29T23:59:59.123Z"),
        2024,
        text,
        `${text}\n${"x".repeat(5000)}`,
        bytes,
        bytes,
        JSON.stringify({ greeting: text, n: 1, list: [1, null, true] }),
        true,
      ],
    );
    expect(ins.rowsAffected).toBe(1);
    expect(ins.insertId).toMatch(/^[1-9]\d*$/);

    const res = await client.execute(`SELECT * FROM ${types} WHERE id = ?`, [ins.insertId]);
    expect(res.size).toBe(1);
    expect(res.types).toEqual({
      id: "INT64",
      i: "INT32",
      ti: "INT8",
      ui: "UINT32",
      bi: "INT64",
      ubi: "UINT64",
      dec1: "DECIMAL",
      dbl: "FLOAT64",
      d: "DATE",
      dt: "DATETIME",
      yr: "YEAR",
      txt: "VARCHAR",
      tx: "TEXT",
      vb: "VARBINARY",
      bl: "BLOB",
      js: "JSON",
      flag: "INT8",
    });
    const row = res.rows[0] as Record<string, unknown>;
    expect(row.id).toBe(ins.insertId);
    expect(row.i).toBe(-2147483648);
    expect(row.ti).toBe(-128);
    expect(row.ui).toBe(4294967295);
    expect(row.bi).toBe("9007199254740993");
    expect(row.ubi).toBe("18446744073709551615");
    expect(row.dec1).toBe("12345678901234.567891");
    expect(row.dbl).toBe(1.5e-7);
    expect(row.d).toBe("2024-02-29");
    expect(row.dt).toBe("2024-02-29 23:59:59.123");
    expect(row.yr).toBe(2024);
    expect(row.txt).toBe(text);
    expect(row.tx).toBe(`${text}\n${"x".repeat(5000)}`);
    expect(row.vb).toEqual(bytes);
    expect(row.bl).toEqual(bytes);
    expect(row.js).toEqual({ greeting: text, n: 1, list: [1, null, true] });
    expect(row.flag).toBe(1);

    // MariaDB stored exactly that (UTF-8 text, raw bytes).
    const [direct1] = await direct.query(`SELECT txt, HEX(vb) AS hx FROM ${types} WHERE id = ?`, [
      ins.insertId,
    ]);
    expect((direct1 as { txt: string; hx: string }[])[0]).toEqual({
      txt: text,
      hx: Buffer.from(bytes).toString("hex").toUpperCase(),
    });
  });

  it("returns NULL as null with every column type, and NULL literals as type NULL", async () => {
    const ins = await client.execute(`INSERT INTO ${types} (i) VALUES (NULL)`);
    const res = await client.execute(
      `SELECT i, bi, dec1, d, dt, txt, vb, js, NULL AS nothing FROM ${types} WHERE id = ?`,
      [ins.insertId],
    );
    expect(res.rows[0]).toEqual({
      i: null,
      bi: null,
      dec1: null,
      d: null,
      dt: null,
      txt: null,
      vb: null,
      js: null,
      nothing: null,
    });
    expect(res.types.nothing).toBe("NULL");
  });

  it("answers rows as arrays, keeps duplicate column names, and reports metadata", async () => {
    const res = await client.execute("SELECT 1 AS a, 'x' AS a, 2.50 AS d, ? AS s", ["한국어 😀"], {
      as: "array",
    });
    expect(res.rows).toEqual([[1, "x", "2.50", "한국어 😀"]]);
    expect(res.headers).toEqual(["a", "a", "d", "s"]);
    expect(res.fields.map((f) => f.type)).toEqual(["INT32", "VARCHAR", "DECIMAL", "VARCHAR"]);
    expect(res.statement).toBe("SELECT 1 AS a, 'x' AS a, 2.50 AS d, '한국어 😀' AS s");
    expect(res.time).toBeGreaterThan(0);
    expect(res.rowsAffected).toBe(0);
    expect(res.insertId).toBe("0");
  });

  it("returns no rows with fields for an empty result, and nothing for DDL", async () => {
    const empty = await client.execute(`SELECT id, code FROM ${T} WHERE id = -1`);
    expect(empty.rows).toEqual([]);
    expect(empty.headers).toEqual(["id", "code"]);
    const ddl = await client.execute(`CREATE TABLE IF NOT EXISTS ${T} (x INT)`);
    expect(ddl.rows).toEqual([]);
    expect(ddl.headers).toEqual([]);
  });
});

describe("insertId and rowsAffected", () => {
  it("reports the id of a single insert and the first id of a multi-row insert", async () => {
    const one = await client.execute(`INSERT INTO ${T} (code, qty) VALUES (?, ?)`, ["single", 1]);
    expect(one.rowsAffected).toBe(1);
    const first = BigInt(one.insertId);

    const many = await client.execute(
      `INSERT INTO ${T} (code, qty) VALUES (?, ?), (?, ?), (?, ?)`,
      ["m1", 10, "m2", 20, "m3", 30],
    );
    expect(many.rowsAffected).toBe(3);
    expect(BigInt(many.insertId)).toBe(first + 1n);
    const rows = await client.execute(
      `SELECT id, code, qty FROM ${T} WHERE code LIKE 'm%' ORDER BY id`,
    );
    expect(rows.rows).toEqual([
      { id: String(first + 1n), code: "m1", qty: 10 },
      { id: String(first + 2n), code: "m2", qty: 20 },
      { id: String(first + 3n), code: "m3", qty: 30 },
    ]);
  });

  it("counts changed rows for UPDATE and DELETE, with named placeholders", async () => {
    await client.execute(`INSERT INTO ${T} (code, qty) VALUES ('u1', 1), ('u2', 1), ('u3', 5)`);
    const upd = await client.execute(
      `UPDATE ${T} SET qty = :qty WHERE code IN ('u1', 'u2', 'u3')`,
      {
        qty: 5,
      },
    );
    // MySQL's default: rows actually changed (u3 already had 5).
    expect(upd.rowsAffected).toBe(2);
    expect(upd.insertId).toBe("0");
    const del = await client.execute(`DELETE FROM ${T} WHERE code LIKE 'u%'`);
    expect(del.rowsAffected).toBe(3);
    const none = await client.execute(`DELETE FROM ${T} WHERE code = 'nope'`);
    expect(none.rowsAffected).toBe(0);
  });
});

describe("single statements, no session", () => {
  const endpoint = (method: string) =>
    new URL(`/psdb.v1alpha1.Database/${method}`, `http://${stack.planetscale.host}`);
  const headers = {
    authorization: `Basic ${btoa(`${stack.planetscale.username}:${stack.planetscale.password}`)}`,
    "content-type": "application/json",
  };

  it("refuses a transaction, changing nothing", async () => {
    const err = await rejection(
      client.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${T} (code, qty) VALUES ('tx-refused', 1)`);
      }),
    );
    expect(err.body.code).toBe("UNIMPLEMENTED");
    expect(await directCount("code = 'tx-refused'")).toBe(0);
  });

  it("refuses statements that would leave state on a pooled connection", async () => {
    for (const statement of ["BEGIN", "SET @conf_var := 41", "LOCK TABLES t READ", "COMMIT"]) {
      const err = await rejection(client.execute(statement));
      expect(err.body.code).toBe("UNIMPLEMENTED");
    }
    // An UPDATE's SET is not a session variable.
    await client.execute(`UPDATE ${T} SET qty = qty WHERE code = 'none'`);
  });

  it("serves no CreateSession and refuses a request that carries a session", async () => {
    const create = await fetch(endpoint("CreateSession"), { method: "POST", headers, body: "{}" });
    expect(create.status).toBe(404);
    const res = await fetch(endpoint("Execute"), {
      method: "POST",
      headers,
      body: JSON.stringify({
        query: "SELECT 1",
        session: { signature: "x", vitessSession: { SessionUUID: "x", autocommit: true } },
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_argument");
  });
});

describe("errors", () => {
  it("duplicate key: DatabaseError with MySQL's errno 1062", async () => {
    await client.execute(`INSERT INTO ${T} (code, qty) VALUES ('dup-1', 1)`);
    const err = await rejection(client.execute(`INSERT INTO ${T} (code, qty) VALUES ('dup-1', 2)`));
    expect(err.status).toBe(400);
    expect(err.body.code).toBe("ALREADY_EXISTS");
    expect(err.message).toBe(err.body.message);
    expect(err.message).toMatch(
      /Duplicate entry 'dup-1' for key .*\(errno 1062\) \(sqlstate 23000\)/,
    );
  });

  it("syntax error: errno 1064; missing table: errno 1146", async () => {
    const syntax = await rejection(client.execute("SELEC 1"));
    expect(syntax.status).toBe(400);
    expect(syntax.body.code).toBe("INVALID_ARGUMENT");
    expect(syntax.message).toContain("(errno 1064) (sqlstate 42000)");
    const missing = await rejection(client.execute(`SELECT * FROM conf_missing_${suffix}`));
    expect(missing.body.code).toBe("NOT_FOUND");
    expect(missing.message).toContain("(errno 1146) (sqlstate 42S02)");
  });

  it("wrong or missing credentials: DatabaseError 401 in PlanetScale's shape", async () => {
    const bad = new URL(url);
    bad.password = "wrong-password";
    const err = await rejection(new Client({ url: bad.toString() }).execute("SELECT 1"));
    expect(err.status).toBe(401);
    expect(err.body).toEqual({ code: "unauthenticated", message: "invalid auth credentials" });
    const anon = new URL(url);
    anon.username = "";
    anon.password = "";
    const err2 = await rejection(new Client({ url: anon.toString() }).execute("SELECT 1"));
    expect(err2.status).toBe(401);
  });

  it("bad requests: 400 with { error: { code, message } }", async () => {
    const endpoint = new URL("/psdb.v1alpha1.Database/Execute", `http://${stack.planetscale.host}`);
    const headers = {
      authorization: `Basic ${btoa(`${stack.planetscale.username}:${stack.planetscale.password}`)}`,
      "content-type": "application/json",
    };
    for (const body of [
      "{not json",
      JSON.stringify({ session: null }),
      JSON.stringify({ query: 42 }),
    ]) {
      const res = await fetch(endpoint, { method: "POST", headers, body });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe("invalid_argument");
      expect(json.error.message).toEqual(expect.any(String));
    }
  });

  it("poison statements (rejectMatching) fail with errno 1644 and are not executed", async () => {
    const poison = `poison_${suffix}`;
    const control = stack.gatewayControl;
    const health = (await (await controlFetch(control, "/health")).json()) as {
      apis: { planetscale: { faults: { rejectMatching: string[] } } };
    };
    const before = health.apis.planetscale.faults.rejectMatching;
    const set = (rejectMatching: string[]) =>
      controlFetch(control, "/faults/planetscale", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rejectMatching }),
      });
    expect((await set([...before, poison])).status).toBe(200);
    try {
      const err = await rejection(
        client.execute(`INSERT INTO ${T} (code, qty) VALUES (?, 1)`, [poison]),
      );
      expect(err.status).toBe(400);
      expect(err.message).toContain("injected fault: poison statement");
      expect(err.message).toContain("(errno 1644) (sqlstate 45000)");
    } finally {
      const now = (await (await controlFetch(control, "/health")).json()) as typeof health;
      await set(now.apis.planetscale.faults.rejectMatching.filter((s) => s !== poison));
    }
    expect(await directCount(`code = '${poison}'`)).toBe(0);
    const ok = await client.execute(`INSERT INTO ${T} (code, qty) VALUES (?, 1)`, [poison]);
    expect(ok.rowsAffected).toBe(1);
  });
});
