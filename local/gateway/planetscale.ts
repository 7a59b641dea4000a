/**
 * Stand-in for PlanetScale's HTTP database API, backed by a real MariaDB, exact enough for the
 * official `@planetscale/database` client (and drizzle's `planetscale-serverless` on top of it):
 *
 *   POST /psdb.v1alpha1.Database/CreateSession  {}                   → { branch, user, session }
 *   POST /psdb.v1alpha1.Database/Execute        { query, session }   → { session, result, timing }
 *                                                                       or { session, error }
 *
 * Basic auth (the URL's user:password). A session is `{ signature, vitessSession }`: an HMAC-signed
 * object the client echoes back. Statements of a session without server-side state run on the
 * pool; a statement that leaves its connection inside a transaction (BEGIN, START TRANSACTION,
 * SET autocommit=0, …) pins that connection to the session until COMMIT/ROLLBACK, and one that
 * changes connection state (SET, LOCK TABLES, temporary tables, GET_LOCK, user variables) pins
 * it for the session's life, as Vitess's reserved connections do. A session idle longer than
 * `sessionIdleMs` (default 30 s) is rolled back and its connection freed; its token then still
 * says `inTransaction`, so the next statement (other than ROLLBACK) fails with ABORTED instead of
 * silently running outside the transaction it belonged to.
 *
 * Errors: SQL errors answer 200 `{ session, error: { message, code } }` (the client throws
 * `DatabaseError` with status 400), the message carrying `(errno N) (sqlstate S)` as vttablet's
 * do; wrong credentials answer 401, bad requests 400, an unreachable MariaDB 503, each as
 * `{ error: { code, message } }`.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import mysql, {
  type FieldPacket,
  type Pool,
  type PoolConnection,
  type QueryError,
  type ResultSetHeader,
} from "mysql2/promise";
import type { MysqlEndpoint } from "../stack-types.ts";
import { type Faults, matchesPoison } from "./faults.ts";
import {
  encodeHeader,
  encodeRows,
  type RawRow,
  type VitessError,
  type VitessResult,
  vitessError,
  vitessSqlError,
} from "./planetscale-encoding.ts";

export interface PlanetscaleGatewayOptions {
  mysql: MysqlEndpoint;
  username: string;
  password: string;
  faults: Faults;
  /** A session idle this long is rolled back and its connection freed. Default 30 000. */
  sessionIdleMs?: number;
  /** Pool size (sessionless statements and pinned sessions together). Default 64. */
  connectionLimit?: number;
}

interface VitessSession {
  SessionUUID: string;
  autocommit: true;
  inTransaction?: true;
  inReservedConn?: true;
}

interface SessionToken {
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

type Outcome =
  | { ok: true; result: VitessResult; inTx: boolean; reserved: boolean }
  | { ok: false; error: VitessError; status: number; inTx: boolean; reserved: boolean };

const SERVER_STATUS_IN_TRANS = 1;
const SERVER_STATUS_AUTOCOMMIT = 2;
const MAX_BODY = 32 << 20;

/** Statements that change connection state a later statement of the session may rely on. */
const STATEFUL =
  /^(set\s(?!\s*(session\s+|@@session\.|@@)?autocommit\b)|lock\s+tables?\b|create\s+(or\s+replace\s+)?temporary\b|prepare\b)|\bget_lock\s*\(|@[\w$.]+\s*:=|\binto\s+@/i;

const OPENS_TX =
  /^(begin\b|start\s+transaction\b|set\s+(session\s+|@@session\.|@@)?autocommit\b|xa\s+(start|begin)\b)/i;

function stripLeadingComments(sql: string): string {
  return sql.replace(/^(\s+|\/\*[\s\S]*?\*\/|(--\s|#)[^\n]*(\n|$))*/, "");
}

export function createPlanetscaleGateway(opts: PlanetscaleGatewayOptions): {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
} {
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
  let closed = false;

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
    const want = Buffer.from(sign(vitessSession));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got) ? vitessSession : null;
  }

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
    if (!match?.[1]) return false;
    const decoded = Buffer.from(match[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const same = (a: string, b: string) => {
      const [x, y] = [Buffer.from(a), Buffer.from(b)];
      return x.length === y.length && timingSafeEqual(x, y);
    };
    const userOk = same(decoded.slice(0, colon), opts.username);
    const passOk = same(decoded.slice(colon + 1), opts.password);
    return userOk && passOk;
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

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  const fail = (res: ServerResponse, status: number, code: string, message: string) =>
    send(res, status, { error: { code, message } });

  async function readBody(req: IncomingMessage): Promise<string | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return null;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://gateway").pathname;
    const method = path.startsWith("/psdb.v1alpha1.Database/") ? path.slice(24) : "";
    if (method !== "Execute" && method !== "CreateSession") {
      req.resume();
      return fail(res, 404, "not_found", `unknown method ${path}`);
    }
    if (req.method !== "POST") {
      req.resume();
      return fail(res, 405, "invalid_argument", "method not allowed: use POST");
    }
    if (!authorized(req)) {
      req.resume();
      return fail(res, 401, "unauthenticated", "invalid auth credentials");
    }
    const text = await readBody(req);
    if (text === null) return fail(res, 413, "resource_exhausted", "request body too large");
    let body: unknown;
    try {
      body = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return fail(res, 400, "invalid_argument", "invalid request body: malformed JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return fail(res, 400, "invalid_argument", "invalid request body: expected a JSON object");
    }
    if (closed) return fail(res, 503, "unavailable", "database API is shutting down");
    if (method === "CreateSession") {
      const user = { username: opts.username, psid: `local-${opts.username}`, role: "admin" };
      return send(res, 200, { branch: database, user, session: token(randomUUID(), false, false) });
    }
    const { query, session: rawSession } = body as { query?: unknown; session?: unknown };
    if (typeof query !== "string") {
      return fail(res, 400, "invalid_argument", "invalid request body: query must be a string");
    }
    let session: VitessSession | null = null;
    if (rawSession !== undefined && rawSession !== null) {
      session = verify(rawSession);
      if (!session) return fail(res, 400, "invalid_argument", "invalid session: bad signature");
    }
    const uuid = session?.SessionUUID ?? randomUUID();
    if (matchesPoison(opts.faults, query)) {
      const info = { errno: 1644, sqlState: "45000", message: "injected fault: poison statement" };
      const error = vitessSqlError(info, { database, username: opts.username, sql: query });
      const echoed = token(uuid, session?.inTransaction === true, session?.inReservedConn === true);
      return send(res, 200, { session: echoed, error });
    }
    const started = process.hrtime.bigint();
    const outcome = await execute(query, uuid, session);
    const timing = Number(process.hrtime.bigint() - started) / 1e9;
    const next = token(uuid, outcome.inTx, outcome.reserved);
    if (outcome.ok) return send(res, 200, { session: next, result: outcome.result, timing });
    if (outcome.status !== 200)
      return fail(res, outcome.status, outcome.error.code, outcome.error.message);
    send(res, 200, { session: next, error: outcome.error });
  }

  return {
    handle(req, res) {
      serve(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          fail(res, 500, "internal", err instanceof Error ? err.message : String(err));
        else res.destroy();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
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
