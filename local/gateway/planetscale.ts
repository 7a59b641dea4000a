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
 * do; wrong credentials answer 401, bad requests 400, an unknown path 404, an unreachable MariaDB
 * 503, each as `{ error: { code, message } }`.
 */
import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { type Faults, matchesPoison } from "./faults.ts";
import { basicAuthorized } from "./http.ts";
import { vitessSqlError } from "./planetscale-encoding.ts";
import {
  createSessions,
  type SessionsOptions,
  type VitessSession,
} from "./planetscale-sessions.ts";

export interface PlanetscaleGatewayOptions extends SessionsOptions {
  faults: Faults;
}

const ExecuteBody = z.object({ query: z.string(), session: z.unknown().optional() });

export function createPlanetscaleGateway(opts: PlanetscaleGatewayOptions): {
  fetch: Hono["fetch"];
  close(): Promise<void>;
} {
  const database = opts.mysql.database;
  const sessions = createSessions(opts);
  let closed = false;

  const fail = (c: Context, status: 400 | 401 | 404 | 500 | 503, code: string, message: string) =>
    c.json({ error: { code, message } }, status);

  /** The request's JSON object body, or an answer refusing it. */
  async function json(c: Context): Promise<Record<string, unknown> | Response> {
    const value: unknown = await c.req.json().catch(() => undefined);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
    return fail(c, 400, "invalid_argument", "invalid request body: expected a JSON object");
  }

  const app = new Hono()
    .use(async (c, next) => {
      if (!basicAuthorized(c.req.header("Authorization"), opts.username, opts.password)) {
        return fail(c, 401, "unauthenticated", "invalid auth credentials");
      }
      if (closed) return fail(c, 503, "unavailable", "database API is shutting down");
      return next();
    })
    .post("/psdb.v1alpha1.Database/CreateSession", async (c) => {
      const body = await json(c);
      if (body instanceof Response) return body;
      const user = { username: opts.username, psid: `local-${opts.username}`, role: "admin" };
      return c.json({
        branch: database,
        user,
        session: sessions.token(randomUUID(), false, false),
      });
    })
    .post("/psdb.v1alpha1.Database/Execute", async (c) => {
      const body = await json(c);
      if (body instanceof Response) return body;
      const parsed = ExecuteBody.safeParse(body);
      if (!parsed.success) {
        return fail(c, 400, "invalid_argument", "invalid request body: query must be a string");
      }
      const { query, session: rawSession } = parsed.data;
      let session: VitessSession | null = null;
      if (rawSession !== undefined && rawSession !== null) {
        session = sessions.verify(rawSession);
        if (!session) return fail(c, 400, "invalid_argument", "invalid session: bad signature");
      }
      const uuid = session?.SessionUUID ?? randomUUID();
      if (matchesPoison(opts.faults, query)) {
        const info = {
          errno: 1644,
          sqlState: "45000",
          message: "injected fault: poison statement",
        };
        const error = vitessSqlError(info, { database, username: opts.username, sql: query });
        const echoed = sessions.token(
          uuid,
          session?.inTransaction === true,
          session?.inReservedConn === true,
        );
        return c.json({ session: echoed, error });
      }
      const started = process.hrtime.bigint();
      const outcome = await sessions.execute(query, uuid, session);
      const timing = Number(process.hrtime.bigint() - started) / 1e9;
      const next = sessions.token(uuid, outcome.inTx, outcome.reserved);
      if (outcome.ok) return c.json({ session: next, result: outcome.result, timing });
      if (outcome.status === 503) {
        return fail(c, 503, outcome.error.code, outcome.error.message);
      }
      return c.json({ session: next, error: outcome.error });
    });
  app.notFound((c) => fail(c, 404, "not_found", `unknown method ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => fail(c, 500, "internal", err.message));

  return {
    fetch: app.fetch,
    async close() {
      if (closed) return;
      closed = true;
      await sessions.close();
    },
  };
}
