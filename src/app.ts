import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { ConfigError } from "../platform/config.ts";
import { reportDeployChecksOnce } from "../platform/deploy-checks.ts";
import type { HonoEnv } from "./hono-env.ts";
import { allowedMethods } from "./lib/allowed-methods.ts";
import { cors } from "./middleware/cors.ts";
import { observeRequests, routeOf } from "./middleware/metrics.ts";
import { limitPerAddress } from "./middleware/rate-limit.ts";
import { securityHeaders } from "./middleware/security-headers.ts";
import { ProblemError, problemResponse } from "./problems.ts";
import { admin } from "./routes/admin.ts";
import { adminConfig } from "./routes/admin-config.ts";
import { claims } from "./routes/claims.ts";
import { coupons } from "./routes/coupons.ts";
import { mountDocs } from "./routes/docs.ts";
import { events } from "./routes/events.ts";
import { me } from "./routes/me.ts";
import { mountPages } from "./routes/pages.ts";
import { queue } from "./routes/queue.ts";
import { service } from "./routes/service.ts";
import { edgeServicesFor } from "./services.ts";

const MAX_BODY_BYTES = 16 * 1024;
const REQUEST_ID_MAX_LENGTH = 64;

/** Builds the whole HTTP surface; the Worker entry and the tests use this same app. */
export function buildApp(): OpenAPIHono<HonoEnv> {
  const app = new OpenAPIHono<HonoEnv>();

  // A client's X-Request-Id is echoed, logged and quoted in 500s: kept only when short and of
  // [A-Za-z0-9_=-] (hono's check), else a fresh UUID.
  app.use(requestId({ limitLength: REQUEST_ID_MAX_LENGTH }));
  app.use(
    createMiddleware<HonoEnv>(async (c, next) => {
      c.set("services", edgeServicesFor(c.env));
      await next();
    }),
  );
  app.use(observeRequests);
  app.use(securityHeaders);
  // Problem answers are built outside Hono's response helpers: they get the id here.
  app.use(
    createMiddleware<HonoEnv>(async (c, next) => {
      await next();
      c.res.headers.set("X-Request-Id", c.var.requestId);
    }),
  );
  app.use(
    createMiddleware<HonoEnv>(async (c, next) => {
      // An invalid configuration fails every route here (a 503 from onError).
      const { config } = c.var.services;
      // A deployed Worker names what it lacks, once per isolate (docs/deploy.md).
      reportDeployChecksOnce(c.env, config);
      await next();
    }),
  );
  app.use(cors);
  app.use(limitPerAddress);
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ProblemError("payload-too-large", { detail: "The body is over 16 KiB." });
      },
    }),
  );

  app.route("/", service);
  app.route("/", events);
  app.route("/", claims);
  app.route("/", queue);
  app.route("/", me);
  app.route("/", coupons);
  app.route("/", admin);
  app.route("/", adminConfig);
  app.get("/", (c) => c.json({ service: "coupon-edge", docs: "/docs", openapi: "/openapi.json" }));
  mountDocs(app);
  mountPages(app);

  app.notFound((c) => {
    const allow = allowedMethods(app.routes, c.req.path);
    if (allow.length > 0) {
      return problemResponse("method-not-allowed", {
        detail: `${c.req.method} is not served on ${c.req.path}.`,
        headers: { Allow: allow.join(", ") },
      });
    }
    return problemResponse("not-found", { detail: `No route ${c.req.method} ${c.req.path}.` });
  });

  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(err.slug, err.options);
    if (err instanceof ConfigError) {
      // Logged once, by name and rule, where it was parsed: the answer names nothing.
      return problemResponse("unavailable", {
        detail: "The service is misconfigured.",
        retryAfter: 60,
      });
    }
    if (err instanceof HTTPException && err.status === 415) {
      const message = "Content-Type must be application/json.";
      return problemResponse("invalid-request", {
        detail: message,
        extra: { errors: [{ path: "header.content-type", message }] },
      });
    }
    if (err instanceof HTTPException && err.status === 400) {
      // hono's own validators (e.g. a JSON body that does not parse).
      return problemResponse("invalid-request", {
        detail: err.message,
        extra: { errors: [{ path: "body", message: err.message }] },
      });
    }
    if (isOverloaded(err)) {
      return problemResponse("unavailable", {
        detail: "The event is busy; try again.",
        retryAfter: 1,
      });
    }
    console.error(
      JSON.stringify({
        level: "error",
        requestId: c.var.requestId,
        method: c.req.method,
        // The template, never the path: coupon ids are bearer-like.
        route: routeOf(c),
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
    );
    return problemResponse("internal", { detail: `Request ${c.var.requestId} failed.` });
  });

  return app;
}

/** Durable Object errors the platform marks as overload or retryable: the caller may retry. */
function isOverloaded(err: Error): boolean {
  const flags = err as Error & { overloaded?: boolean; retryable?: boolean };
  return flags.overloaded === true || flags.retryable === true;
}
