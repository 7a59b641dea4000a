import { createMiddleware } from "hono/factory";
import type { HonoEnv } from "../hono-env.ts";

/** The policy of every answer but the API reference page: nothing may load, frame or submit. */
const STRICT_CSP =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * What hono/secure-headers sets with `xFrameOptions: "DENY"`, written out once: the same names
 * and values on every answer, so nothing is computed per request.
 */
const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "DENY"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

/**
 * Security headers on every answer, a strict Content-Security-Policy unless the page set its own
 * (the API reference), and `no-store` on every answer to an authenticated request (one that
 * carries a token and whose handler set no caching of its own, as the public
 * `GET /v1/events/{id}` does) and on every 401/403. All of it goes on the final answer, after the
 * handler: touching `c.res` before `next()` makes Hono build a placeholder Response and copy it
 * into the real one (see cors.ts; test/unit/security-headers.test.ts counts them).
 */
export const securityHeaders = createMiddleware<HonoEnv>(async (c, next) => {
  await next();
  const { status, headers } = c.res;
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
  if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", STRICT_CSP);
  const refused = status === 401 || status === 403;
  if (refused || (c.req.header("Authorization") !== undefined && !headers.has("Cache-Control"))) {
    headers.set("Cache-Control", "no-store");
  }
});
