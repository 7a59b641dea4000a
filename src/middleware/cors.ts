import type { Context, MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { HonoEnv } from "../hono-env.ts";

const ALLOW_METHODS = ["GET", "POST", "OPTIONS"];
const ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "Idempotency-Key",
  "X-Request-Id",
  "CF-Turnstile-Response",
];
const EXPOSE_HEADERS = ["Retry-After", "RateLimit", "RateLimit-Policy", "X-Request-Id", "Location"];

/** CORS_ORIGINS as a set, parsed once per value (the configuration does not change per request). */
const parsed = new Map<string, ReadonlySet<string>>();

function originsOf(configured: string): ReadonlySet<string> {
  let origins = parsed.get(configured);
  if (!origins) {
    origins = new Set(configured.split(",").map((o) => o.trim()));
    parsed.set(configured, origins);
  }
  return origins;
}

/** `*`, the request's origin when CORS_ORIGINS lists it, or null. */
function allowedOrigin(origin: string, configured: string): string | null {
  const allowed = originsOf(configured);
  if (allowed.has("*")) return "*";
  return allowed.has(origin) ? origin : null;
}

const preflight: MiddlewareHandler<HonoEnv> = honoCors({
  origin: (origin, c: Context<HonoEnv>) =>
    allowedOrigin(origin, c.var.services.config.http.corsOrigins),
  allowMethods: ALLOW_METHODS,
  allowHeaders: ALLOW_HEADERS,
  exposeHeaders: EXPOSE_HEADERS,
  maxAge: 600,
});

const exposed = EXPOSE_HEADERS.join(",");

/**
 * CORS for bearer-token clients (no credentials). Preflights go to hono/cors; on every other
 * request the headers are set on the final answer, after the handler: hono/cors sets them before
 * it, which makes Hono build a placeholder Response and then copy it into the real one, a
 * measurable share of the CPU of a small route.
 */
export const cors = createMiddleware<HonoEnv>(async (c, next) => {
  if (c.req.method === "OPTIONS") return preflight(c, next);
  await next();
  const configured = c.var.services.config.http.corsOrigins;
  // With `*` the request's Origin does not matter: no need to read it.
  const origin = originsOf(configured).has("*")
    ? "*"
    : allowedOrigin(c.req.header("Origin") ?? "", configured);
  if (origin) c.res.headers.set("Access-Control-Allow-Origin", origin);
  c.res.headers.set("Access-Control-Expose-Headers", exposed);
  if (origin !== "*") c.res.headers.append("Vary", "Origin");
});
