/**
 * The database side of the PlanetScale stand-in (planetscale.ts): a pool on the MariaDB and one
 * statement per request on a pooled connection, which is all the service sends (`Client.execute`
 * opens a fresh session-less connection per call). Statements that would leave state on the
 * pooled connection for a later request (a transaction, SET, LOCK TABLES, user variables…) are
 * refused rather than leaked to whoever gets that connection next.
 */
import mysql, {
  type FieldPacket,
  type Pool,
  type QueryError,
  type ResultSetHeader,
} from "mysql2/promise";
import type { MysqlEndpoint } from "../stack-types.ts";
import {
  encodeHeader,
  encodeRows,
  type RawRow,
  type VitessError,
  type VitessResult,
  vitessError,
  vitessSqlError,
} from "./planetscale-encoding.ts";

export interface StatementsOptions {
  mysql: MysqlEndpoint;
  /** The API's user: errors name it, as vttablet's do. */
  username: string;
  /** Pool size. Default 64. */
  connectionLimit?: number;
}

export interface Statements {
  /** Runs one statement on a pooled connection. */
  execute(sql: string): Promise<Outcome>;
  /** Closes the pool. */
  close(): Promise<void>;
}

export type Outcome =
  | { ok: true; result: VitessResult }
  | { ok: false; error: VitessError; status: 200 | 503 };

/** Transaction control: needs a session, which this stand-in does not keep. */
const TRANSACTION =
  /^(begin\b|start\s+transaction\b|commit\b|rollback\b|savepoint\b|release\s+savepoint\b|set\s+(session\s+|@@session\.|@@)?autocommit\b|xa\s)/i;

/** Statements that change connection state a later statement would rely on. */
const STATEFUL =
  /^(set\s|lock\s+tables?\b|unlock\s+tables?\b|create\s+(or\s+replace\s+)?temporary\b|prepare\b)|\bget_lock\s*\(|@[\w$.]+\s*:=|\binto\s+@/i;

function stripLeadingComments(sql: string): string {
  return sql.replace(/^(\s+|\/\*[\s\S]*?\*\/|(--\s|#)[^\n]*(\n|$))*/, "");
}

export function createStatements(opts: StatementsOptions): Statements {
  const database = opts.mysql.database;
  const pool: Pool = mysql.createPool({
    host: opts.mysql.host,
    port: opts.mysql.port,
    user: opts.mysql.user,
    password: opts.mysql.password,
    database,
    connectionLimit: opts.connectionLimit ?? 64,
    maxIdle: 8,
    idleTimeout: 60_000,
    enableKeepAlive: true,
    // MySQL's default: affected rows are changed rows (no CLIENT_FOUND_ROWS).
    flags: ["-FOUND_ROWS"],
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
  });

  function sqlError(err: unknown, sql: string): Outcome {
    const e = err as Partial<QueryError> & { sqlMessage?: string };
    if (typeof e.errno === "number" && e.errno > 0 && typeof e.sqlState === "string" && !e.fatal) {
      const info = {
        errno: e.errno,
        sqlState: e.sqlState,
        message: e.sqlMessage ?? e.message ?? "",
      };
      return {
        ok: false,
        error: vitessSqlError(info, { database, username: opts.username, sql }),
        status: 200,
      };
    }
    // The database itself is not reachable: not a statement error, so not 200/DatabaseError 400.
    const desc = `MySQL is unavailable: ${e.code ?? ""} ${e.message ?? String(err)}`.trim();
    return {
      ok: false,
      error: { code: "unavailable", message: vitessError("UNAVAILABLE", desc).message },
      status: 503,
    };
  }

  async function execute(sql: string): Promise<Outcome> {
    const head = stripLeadingComments(sql);
    if (TRANSACTION.test(head) || STATEFUL.test(head)) {
      const desc = `the local stand-in runs single statements without a session: ${head.split(/\s/, 1)[0]?.toUpperCase()} would need one (transactions and connection state are not supported)`;
      return { ok: false, error: vitessError("UNIMPLEMENTED", desc), status: 200 };
    }
    try {
      const [rows, fields] = await pool.query({ sql, rowsAsArray: true, typeCast: false });
      if (!Array.isArray(rows)) return { ok: true, result: encodeHeader(rows as ResultSetHeader) };
      const rowsList = rows as unknown as unknown[];
      const fieldList = (fields ?? []) as unknown as unknown[];
      // CALL returns several result sets: the first one is the answer.
      return Array.isArray(fieldList[0])
        ? {
            ok: true,
            result: encodeRows(fieldList[0] as FieldPacket[], rowsList[0] as RawRow[]),
          }
        : { ok: true, result: encodeRows(fieldList as FieldPacket[], rowsList as RawRow[]) };
    } catch (err) {
      return sqlError(err, sql);
    }
  }

  return {
    execute,
    async close() {
      await pool.end();
    },
  };
}
