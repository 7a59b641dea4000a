import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { HonoEnv } from "../hono-env.ts";

/** The policy of every answer but the API reference page: nothing may load, frame or submit. */
const STRICT_CSP =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const secure = secureHeaders({ xFrameOptions: "DENY", removePoweredBy: false });

/**
 * Security headers on every answer (hono/secure-headers), a strict Content-Security-Policy unless
 * the page set its own (the API reference), and `no-store` on every answer to an authenticated
 * request (one that carries a token and whose handler set no caching of its own, as the public
 * `GET /v1/events/{id}` does) and on every 401/403. All of it goes on the final answer, after the
 * handler: touching `c.res` before `next()` makes Hono build a placeholder Response and copy it
 * into the real one (see cors.ts; test/unit/security-headers.test.ts counts them).
 */
export const securityHeaders = createMiddleware<HonoEnv>(async (c, next) => {
  await secure(c, next);
  const { status, headers } = c.res;
  if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", STRICT_CSP);
  const refused = status === 401 || status === 403;
  if (refused || (c.req.header("Authorization") !== undefined && !headers.has("Cache-Control"))) {
    headers.set("Cache-Control", "no-store");
  }
});
