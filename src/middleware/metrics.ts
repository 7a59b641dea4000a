import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { EVENT_ID_PATTERN, isSmokeEvent } from "../../domain/identifiers.ts";
import type { HonoEnv } from "../hono-env.ts";
import { metrics, type Sample } from "../lib/metrics.ts";
import { waitUntilOf } from "../lib/wait-until.ts";
import { ProblemError, type ProblemSlug } from "../problems.ts";
import { logRequest } from "./request-log.ts";

/** Problems answered without a `ProblemError` (not-found routes, overloads, faults), by status. */
const SLUG_BY_STATUS: Partial<Record<number, ProblemSlug>> = {
  404: "not-found",
  405: "method-not-allowed",
  500: "internal",
  503: "unavailable",
};

/** Methods counted by name; any other token a client sends is `OTHER` (bounded labels). */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Records every request once it is answered: into this isolate's aggregate (`src/lib/metrics.ts`),
 * into Workers Analytics Engine when the `METRICS` binding exists (fire and forget), and as one
 * JSON log line (`./request-log.ts`). A few map updates, nothing awaited: the claim path pays
 * microseconds.
 */
export const observeRequests = createMiddleware<HonoEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const ms = performance.now() - started;
  const status = c.res.status;
  const route = routeOf(c);
  const error = c.error;
  const slug =
    error instanceof ProblemError
      ? error.slug
      : (c.var.problem ??
        (status >= 400 && c.res.headers.get("Content-Type") === "application/problem+json"
          ? (SLUG_BY_STATUS[status] ?? "")
          : ""));
  const eventId = eventIdOf(c.req.path);
  const sample: Sample = {
    method: KNOWN_METHODS.has(c.req.method) ? c.req.method : "OTHER",
    route,
    status,
    slug,
    ms,
    // Only an event the edge knows exists: ids anyone can invent would grow every table.
    // Smoke checks' throwaway events count per route, never as events of their own.
    eventId:
      eventId !== "" && !isSmokeEvent(eventId) && c.var.services.events.knows(eventId)
        ? eventId
        : "",
  };
  metrics.record(sample);
  // Analytics Engine: one data point per request, queried with its SQL API (docs/runbook.md).
  c.env.METRICS?.writeDataPoint({
    indexes: [`${sample.method} ${route}`],
    blobs: [sample.method, route, String(status), slug, sample.eventId],
    doubles: [ms, status],
  });
  logRequest(c, sample, waitUntilOf(c));
});

/** The route that answered, written as in the OpenAPI document (`/v1/events/{id}`). */
export function routeOf(c: Parameters<typeof matchedRoutes>[0]): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i];
    if (r && r.method !== "ALL") return template(r.path);
  }
  return "unmatched";
}

const templates = new Map<string, string>();

/** Hono's `/v1/events/:id` as `/v1/events/{id}`, converted once per route. */
function template(path: string): string {
  let converted = templates.get(path);
  if (converted === undefined) {
    converted = path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
    templates.set(path, converted);
  }
  return converted;
}

/** `/v1/events/{id}/…` names its event; a coupon id ends with its event's id (`cpn_….<event>`). */
export function eventIdOf(path: string): string {
  let id = "";
  if (path.startsWith("/v1/events/")) {
    const end = path.indexOf("/", 11);
    id = path.slice(11, end === -1 ? undefined : end);
  } else if (path.startsWith("/v1/coupons/")) {
    const end = path.indexOf("/", 12);
    const coupon = path.slice(12, end === -1 ? undefined : end);
    const dot = coupon.indexOf(".");
    id = dot === -1 ? "" : coupon.slice(dot + 1);
  }
  return EVENT_ID_PATTERN.test(id) ? id : "";
}
