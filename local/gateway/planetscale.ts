/**
 * Stand-in for PlanetScale's HTTP database API, backed by a real MariaDB, exact enough for what
 * the service sends through the official `@planetscale/database` client (and drizzle's
 * `planetscale-serverless` on top of it):
 *
 *   POST /psdb.v1alpha1.Database/Execute  { query, session: null }  → { result, timing }
 *                                                                    or { error }
 *
 * The service only calls `Client.execute`, which opens a fresh connection per call: one statement,
 * no session, no transaction (the objects' outbox makes every write idempotent instead). So each
 * statement runs on a pooled MariaDB connection (planetscale-statements.ts) and no session is
 * kept: CreateSession (`Connection.refresh`) is not served, a request that carries a session is
 * refused, and so is a statement that would need one (BEGIN, SET, LOCK TABLES…).
 *
 * Errors: SQL errors answer 200 `{ error: { message, code } }` (the client throws `DatabaseError`
 * with status 400), the message carrying `(errno N) (sqlstate S)` as vttablet's do; wrong
 * credentials answer 401, bad requests 400, an unknown path 404, an unreachable MariaDB 503, each
 * as `{ error: { code, message } }`.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { type Faults, matchesPoison } from "./faults.ts";
import { basicAuthorized } from "./http.ts";
import { vitessSqlError } from "./planetscale-encoding.ts";
import { createStatements, type StatementsOptions } from "./planetscale-statements.ts";

export interface PlanetscaleGatewayOptions extends StatementsOptions {
  /** The API's credentials (Basic auth). */
  password: string;
  faults: Faults;
}

/** `session` is what the client echoes back; with no session ever handed out it is null. */
const ExecuteBody = z.object({ query: z.string(), session: z.null().optional() });

export function createPlanetscaleGateway(opts: PlanetscaleGatewayOptions): {
  fetch: Hono["fetch"];
  close(): Promise<void>;
} {
  const database = opts.mysql.database;
  const statements = createStatements(opts);
  let closed = false;

  const fail = (c: Context, status: 400 | 401 | 404 | 500 | 503, code: string, message: string) =>
    c.json({ error: { code, message } }, status);

  const app = new Hono()
    .use(async (c, next) => {
      if (!basicAuthorized(c.req.header("Authorization"), opts.username, opts.password)) {
        return fail(c, 401, "unauthenticated", "invalid auth credentials");
      }
      if (closed) return fail(c, 503, "unavailable", "database API is shutting down");
      return next();
    })
    .post("/psdb.v1alpha1.Database/Execute", async (c) => {
      const value: unknown = await c.req.json().catch(() => undefined);
      const parsed = ExecuteBody.safeParse(value);
      if (!parsed.success) {
        return fail(
          c,
          400,
          "invalid_argument",
          "invalid request body: expected { query: string, session: null } (no sessions here)",
        );
      }
      const { query } = parsed.data;
      if (matchesPoison(opts.faults, query)) {
        const info = {
          errno: 1644,
          sqlState: "45000",
          message: "injected fault: poison statement",
        };
        return c.json({
          error: vitessSqlError(info, { database, username: opts.username, sql: query }),
        });
      }
      const started = process.hrtime.bigint();
      const outcome = await statements.execute(query);
      const timing = Number(process.hrtime.bigint() - started) / 1e9;
      if (outcome.ok) return c.json({ result: outcome.result, timing });
      if (outcome.status === 503) return fail(c, 503, outcome.error.code, outcome.error.message);
      return c.json({ error: outcome.error });
    });
  app.notFound((c) => fail(c, 404, "not_found", `unknown method ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => fail(c, 500, "internal", err.message));

  return {
    fetch: app.fetch,
    async close() {
      if (closed) return;
      closed = true;
      await statements.close();
    },
  };
}
