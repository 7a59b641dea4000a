import { z } from "zod";
import { int, section, unsetIfEmpty } from "./fields.ts";

/** A request budget: at most `limit` requests per `windowSeconds`. */
export interface RateBudget {
  limit: number;
  windowSeconds: number;
}

const BUDGET = /^(\d{1,9})\/(\d{1,6})s$/;
const BUDGET_RULE = 'must be "<count>/<seconds>s" with count ≥ 1 and 1..86400 seconds';

function parseBudget(text: string): RateBudget | null {
  const match = BUDGET.exec(text);
  if (!match) return null;
  const limit = Number(match[1]);
  const windowSeconds = Number(match[2]);
  return limit >= 1 && windowSeconds >= 1 && windowSeconds <= 86_400
    ? { limit, windowSeconds }
    : null;
}

const budget = (fallback: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default(fallback)
      .transform((text, ctx) => {
        const parsed = parseBudget(text);
        if (!parsed) ctx.addIssue({ code: "custom", message: BUDGET_RULE });
        return parsed ?? { limit: 0, windowSeconds: 0 };
      }),
  );

/** `METHOD /path/{param}`, as the routes are written in the OpenAPI document. */
const ROUTE_KEY = /^(GET|POST|PUT|PATCH|DELETE) \/[A-Za-z0-9._~{}/-]*$/;

const routeBudgets = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .optional()
    .transform((text, ctx): Record<string, RateBudget> => {
      if (text === undefined) return {};
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a JSON object" });
        return {};
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        ctx.addIssue({ code: "custom", message: "must be a JSON object" });
        return {};
      }
      const routes: Record<string, RateBudget> = {};
      for (const [route, value] of Object.entries(json)) {
        // A well-formed route key may be named; anything else is not echoed.
        if (!ROUTE_KEY.test(route)) {
          ctx.addIssue({ code: "custom", message: 'has a key that is not "METHOD /path/{param}"' });
          continue;
        }
        const parsed = typeof value === "string" ? parseBudget(value) : null;
        if (!parsed) {
          ctx.addIssue({ code: "custom", message: `"${route}" ${BUDGET_RULE}` });
          continue;
        }
        routes[route] = parsed;
      }
      return routes;
    }),
);

/** Request budgets, counted in Redis across isolates (none without Redis). */
export const rateLimit = section({
  settings: {
    /** Claims per user per window. */
    RATE_LIMIT_CLAIM_PER_USER: budget("10/10s"),
    /** Requests per client address per window, on each rate-limited route. */
    RATE_LIMIT_PER_ADDRESS: budget("600/60s"),
    /** JSON `{ "METHOD /path/{param}": "<count>/<seconds>s" }`: a route's own per-address budget. */
    RATE_LIMIT_ROUTES: routeBudgets,
    /** How long a rate-limit check may wait for Redis. */
    RATE_LIMIT_TIMEOUT_MS: int(1, 10_000, 150),
  },
  read: (s) => ({
    claimPerUser: s.RATE_LIMIT_CLAIM_PER_USER,
    perAddress: s.RATE_LIMIT_PER_ADDRESS,
    /** Per-address budgets of single routes, keyed `METHOD /path/{param}`. */
    routes: s.RATE_LIMIT_ROUTES,
    timeoutMs: s.RATE_LIMIT_TIMEOUT_MS,
  }),
});

export type RateLimitConfig = ReturnType<typeof rateLimit.read>;
