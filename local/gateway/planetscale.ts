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
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Faults, matchesPoison } from "./faults.ts";
import {
  BodyTooLargeError,
  basicAuthorized,
  errorMessage,
  handleAsync,
  type RequestHandler,
  readJson,
  sendJson,
} from "./http.ts";
import { vitessSqlError } from "./planetscale-encoding.ts";
import {
  createSessions,
  type SessionsOptions,
  type VitessSession,
} from "./planetscale-sessions.ts";

export interface PlanetscaleGatewayOptions extends SessionsOptions {
  faults: Faults;
}

const MAX_BODY = 32 << 20;

export function createPlanetscaleGateway(opts: PlanetscaleGatewayOptions): {
  handle: RequestHandler;
  close(): Promise<void>;
} {
  const database = opts.mysql.database;
  const sessions = createSessions(opts);
  let closed = false;

  const fail = (res: ServerResponse, status: number, code: string, message: string) =>
    sendJson(res, status, { error: { code, message } });

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
    if (!basicAuthorized(req, opts.username, opts.password, { urlSafe: true })) {
      req.resume();
      return fail(res, 401, "unauthenticated", "invalid auth credentials");
    }
    let body: unknown;
    try {
      body = await readJson(req, MAX_BODY);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        return fail(res, 413, "resource_exhausted", "request body too large");
      }
      if (err instanceof SyntaxError) {
        return fail(res, 400, "invalid_argument", "invalid request body: malformed JSON");
      }
      throw err;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return fail(res, 400, "invalid_argument", "invalid request body: expected a JSON object");
    }
    if (closed) return fail(res, 503, "unavailable", "database API is shutting down");
    if (method === "CreateSession") {
      const user = { username: opts.username, psid: `local-${opts.username}`, role: "admin" };
      return sendJson(res, 200, {
        branch: database,
        user,
        session: sessions.token(randomUUID(), false, false),
      });
    }
    const { query, session: rawSession } = body as { query?: unknown; session?: unknown };
    if (typeof query !== "string") {
      return fail(res, 400, "invalid_argument", "invalid request body: query must be a string");
    }
    let session: VitessSession | null = null;
    if (rawSession !== undefined && rawSession !== null) {
      session = sessions.verify(rawSession);
      if (!session) return fail(res, 400, "invalid_argument", "invalid session: bad signature");
    }
    const uuid = session?.SessionUUID ?? randomUUID();
    if (matchesPoison(opts.faults, query)) {
      const info = { errno: 1644, sqlState: "45000", message: "injected fault: poison statement" };
      const error = vitessSqlError(info, { database, username: opts.username, sql: query });
      const echoed = sessions.token(
        uuid,
        session?.inTransaction === true,
        session?.inReservedConn === true,
      );
      return sendJson(res, 200, { session: echoed, error });
    }
    const started = process.hrtime.bigint();
    const outcome = await sessions.execute(query, uuid, session);
    const timing = Number(process.hrtime.bigint() - started) / 1e9;
    const next = sessions.token(uuid, outcome.inTx, outcome.reserved);
    if (outcome.ok) return sendJson(res, 200, { session: next, result: outcome.result, timing });
    if (outcome.status !== 200)
      return fail(res, outcome.status, outcome.error.code, outcome.error.message);
    sendJson(res, 200, { session: next, error: outcome.error });
  }

  return {
    handle: handleAsync(serve, (res, err) => fail(res, 500, "internal", errorMessage(err))),
    async close() {
      if (closed) return;
      closed = true;
      await sessions.close();
    },
  };
}
