/**
 * The database side of the PlanetScale stand-in (planetscale.ts, whose header says how sessions
 * behave): a pool on the MariaDB, the HMAC-signed session tokens the client echoes back, the
 * connections pinned to sessions, and the reaper of idle ones.
 */
import { createHmac } from "node:crypto";
import mysql, {
  type FieldPacket,
  type Pool,
  type PoolConnection,
  type QueryError,
  type ResultSetHeader,
} from "mysql2/promise";
import type { MysqlEndpoint } from "../stack-types.ts";
import { safeEqual } from "./http.ts";
import {
  encodeHeader,
  encodeRows,
  type RawRow,
  type VitessError,
  type VitessResult,
  vitessError,
  vitessSqlError,
} from "./planetscale-encoding.ts";

export interface SessionsOptions {
  mysql: MysqlEndpoint;
  /** The API's credentials: they key the session signatures, and errors name the user. */
  username: string;
  password: string;
  /** A session idle this long is rolled back and its connection freed. Default 30 000. */
  sessionIdleMs?: number;
  /** Pool size (sessionless statements and pinned sessions together). Default 64. */
  connectionLimit?: number;
}

export interface Sessions {
  /** A signed token for the session's current state. */
  token(uuid: string, inTx: boolean, reserved: boolean): SessionToken;
  /** The session of a token the client sent back; null unless its signature is ours. */
  verify(raw: unknown): VitessSession | null;
  /** Runs one statement in session `uuid` (`session`: what its token said). */
  execute(sql: string, uuid: string, session: VitessSession | null): Promise<Outcome>;
  /** Rolls back and closes every session's connection, then the pool. */
  close(): Promise<void>;
}

export interface VitessSession {
  SessionUUID: string;
  autocommit: true;
  inTransaction?: true;
  inReservedConn?: true;
}

export interface SessionToken {
  signature: string;
  vitessSession: VitessSession;
}

/** Server-side state of a session that holds a connection. */
interface Live {
  uuid: string;
  conn: PoolConnection | undefined;
  inTx: boolean;
  reserved: boolean;
  lastUsed: number;
  busy: number;
  /** Statements of one session run one after another. */
  chain: Promise<unknown>;
}

export type Outcome =
  | { ok: true; result: VitessResult; inTx: boolean; reserved: boolean }
  | { ok: false; error: VitessError; status: number; inTx: boolean; reserved: boolean };

const SERVER_STATUS_IN_TRANS = 1;
const SERVER_STATUS_AUTOCOMMIT = 2;

/** Statements that change connection state a later statement of the session may rely on. */
const STATEFUL =
  /^(set\s(?!\s*(session\s+|@@session\.|@@)?autocommit\b)|lock\s+tables?\b|create\s+(or\s+replace\s+)?temporary\b|prepare\b)|\bget_lock\s*\(|@[\w$.]+\s*:=|\binto\s+@/i;

const OPENS_TX =
  /^(begin\b|start\s+transaction\b|set\s+(session\s+|@@session\.|@@)?autocommit\b|xa\s+(start|begin)\b)/i;

function stripLeadingComments(sql: string): string {
  return sql.replace(/^(\s+|\/\*[\s\S]*?\*\/|(--\s|#)[^\n]*(\n|$))*/, "");
}

export function createSessions(opts: SessionsOptions): Sessions {
  const idleMs = opts.sessionIdleMs ?? 30_000;
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
  const key = createHmac("sha256", "psdb-local-session")
    .update(`${opts.username}\0${opts.password}`)
    .digest();
  const sessions = new Map<string, Live>();

  const sign = (s: VitessSession) =>
    createHmac("sha256", key).update(JSON.stringify(s)).digest("base64url");

  function token(uuid: string, inTx: boolean, reserved: boolean): SessionToken {
    const vitessSession: VitessSession = { SessionUUID: uuid, autocommit: true };
    if (inTx) vitessSession.inTransaction = true;
    if (reserved) vitessSession.inReservedConn = true;
    return { signature: sign(vitessSession), vitessSession };
  }

  function verify(raw: unknown): VitessSession | null {
    if (typeof raw !== "object" || raw === null) return null;
    const { signature, vitessSession } = raw as Partial<SessionToken>;
    if (
      typeof signature !== "string" ||
      typeof vitessSession !== "object" ||
      vitessSession === null
    )
      return null;
    if (typeof vitessSession.SessionUUID !== "string") return null;
    return safeEqual(sign(vitessSession), signature) ? vitessSession : null;
  }

  function sqlError(err: unknown, sql: string): { error: VitessError; status: number } {
    const e = err as Partial<QueryError> & { sqlMessage?: string };
    if (typeof e.errno === "number" && e.errno > 0 && typeof e.sqlState === "string" && !e.fatal) {
      const info = {
        errno: e.errno,
        sqlState: e.sqlState,
        message: e.sqlMessage ?? e.message ?? "",
      };
      return {
        error: vitessSqlError(info, { database, username: opts.username, sql }),
        status: 200,
      };
    }
    // The database itself is not reachable: not a statement error, so not 200/DatabaseError 400.
    const desc = `MySQL is unavailable: ${e.code ?? ""} ${e.message ?? String(err)}`.trim();
    return {
      error: { code: "unavailable", message: vitessError("UNAVAILABLE", desc).message },
      status: 503,
    };
  }

  /** Runs one statement on `conn`; says whether the connection is left inside a transaction. */
  async function run(conn: PoolConnection, sql: string, wasInTx: boolean) {
    const [rows, fields] = await conn.query({ sql, rowsAsArray: true, typeCast: false });
    if (Array.isArray(rows)) {
      const rowsList = rows as unknown as unknown[];
      const fieldList = (fields ?? []) as unknown as unknown[];
      // CALL returns several result sets: the first one is the answer.
      if (Array.isArray(fieldList[0])) {
        return {
          result: encodeRows(fieldList[0] as FieldPacket[], rowsList[0] as RawRow[]),
          inTx: wasInTx,
        };
      }
      return {
        result: encodeRows(fieldList as FieldPacket[], rowsList as RawRow[]),
        inTx: wasInTx,
      };
    }
    const header = rows as ResultSetHeader;
    const status = header.serverStatus ?? SERVER_STATUS_AUTOCOMMIT;
    const inTx =
      (status & SERVER_STATUS_IN_TRANS) !== 0 || (status & SERVER_STATUS_AUTOCOMMIT) === 0;
    return { result: encodeHeader(header), inTx };
  }

  function free(live: Live, rollback: boolean): void {
    if (sessions.get(live.uuid) === live) sessions.delete(live.uuid);
    const conn = live.conn;
    live.conn = undefined;
    if (!conn) return;
    if (live.reserved) {
      conn.destroy();
      return;
    }
    if (!rollback) {
      conn.release();
      return;
    }
    conn.query("ROLLBACK").then(
      () => conn.release(),
      () => conn.destroy(),
    );
  }

  /** One statement of a session that holds (or is about to hold) a connection. */
  async function onLive(live: Live, sql: string, stateful: boolean): Promise<Outcome> {
    live.conn ??= await pool.getConnection();
    const conn = live.conn;
    try {
      const { result, inTx } = await run(conn, sql, live.inTx);
      live.inTx = inTx;
      live.reserved ||= stateful;
      return { ok: true, result, inTx: live.inTx, reserved: live.reserved };
    } catch (err) {
      const { error, status } = sqlError(err, sql);
      if (status !== 200) {
        // The connection (and any transaction on it) is gone; the token keeps saying so.
        if (sessions.get(live.uuid) === live) sessions.delete(live.uuid);
        live.conn = undefined;
        conn.destroy();
        return { ok: false, error, status, inTx: live.inTx, reserved: false };
      }
      // A failed statement may have ended the transaction (deadlock, lock wait timeout).
      if (live.inTx) {
        const [check] = await conn
          .query({ sql: "SELECT @@in_transaction", rowsAsArray: true })
          .catch(() => [[[0]]]);
        live.inTx = Number((check as unknown as unknown[][])[0]?.[0] ?? 0) === 1;
      }
      return { ok: false, error, status, inTx: live.inTx, reserved: live.reserved };
    } finally {
      if (!live.inTx && !live.reserved && live.conn) free(live, false);
    }
  }

  const newLive = (uuid: string): Live => ({
    uuid,
    conn: undefined,
    inTx: false,
    reserved: false,
    lastUsed: Date.now(),
    busy: 0,
    chain: Promise.resolve(),
  });

  /** onLive, with a failure to get a connection at all (MariaDB unreachable) as an outcome. */
  async function attempt(live: Live, sql: string, stateful: boolean): Promise<Outcome> {
    try {
      return await onLive(live, sql, stateful);
    } catch (err) {
      const { error, status } = sqlError(err, sql);
      return { ok: false, error, status, inTx: live.inTx, reserved: false };
    }
  }

  async function execute(
    sql: string,
    uuid: string,
    session: VitessSession | null,
  ): Promise<Outcome> {
    const head = stripLeadingComments(sql);
    const stateful = STATEFUL.test(head);
    const live = sessions.get(uuid);
    if (!live && session?.inTransaction) {
      // The transaction this session belonged to was rolled back (abandoned, or its connection lost).
      if (/^rollback\b/i.test(head)) return { ok: true, result: {}, inTx: false, reserved: false };
      const desc = `transaction in session ${uuid}: ended (idle longer than ${idleMs} ms, or its connection was lost) and was rolled back`;
      return {
        ok: false,
        error: vitessError("ABORTED", desc),
        status: 200,
        inTx: false,
        reserved: false,
      };
    }
    if (!live && !stateful && !OPENS_TX.test(head)) {
      // No connection held: a pooled connection for this one statement.
      const temp = newLive(uuid);
      const outcome = await attempt(temp, sql, false);
      if (temp.conn) {
        // Left inside a transaction after all: the session keeps the connection.
        temp.lastUsed = Date.now();
        if (sessions.has(uuid)) free(temp, true);
        else sessions.set(uuid, temp);
      }
      return outcome;
    }
    const l = live ?? newLive(uuid);
    sessions.set(uuid, l);
    l.busy++;
    const next = l.chain.then(() => attempt(l, sql, stateful));
    l.chain = next;
    try {
      return await next;
    } finally {
      l.busy--;
      l.lastUsed = Date.now();
      if (!l.conn && l.busy === 0 && sessions.get(uuid) === l) sessions.delete(uuid);
    }
  }

  const reaper = setInterval(
    () => {
      const now = Date.now();
      for (const live of sessions.values()) {
        if (live.busy === 0 && now - live.lastUsed > idleMs) free(live, live.inTx);
      }
    },
    Math.max(50, Math.min(1_000, Math.floor(idleMs / 4))),
  );
  reaper.unref();

  return {
    token,
    verify,
    execute,
    async close() {
      clearInterval(reaper);
      // Closing a connection makes MariaDB roll back whatever it had open.
      for (const live of [...sessions.values()]) {
        sessions.delete(live.uuid);
        live.conn?.destroy();
        live.conn = undefined;
      }
      await pool.end();
    },
  };
}
