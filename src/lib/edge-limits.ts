import type { Redis } from "@upstash/redis/cloudflare";
import type { RateBudget, RateLimitConfig } from "../../platform/config.ts";
import { LEASES_PER_WINDOW, LocalFirstLimiter } from "./rate-limit.ts";

/** The edge's rate limiters, one set per isolate: their local counts and caches are the point. */
export interface EdgeLimits {
  perAddress: LocalFirstLimiter;
  /** Routes with a per-address budget of their own, matched on the path. */
  routes: { method: string; path: RegExp; limiter: LocalFirstLimiter }[];
  claimPerUser: LocalFirstLimiter;
}

/** The limiters of RATE_LIMIT_*; none without Redis. */
export function buildLimits(redis: Redis | null, config: RateLimitConfig): EdgeLimits | null {
  if (!redis) return null;
  const limiter = (policy: string, budget: RateBudget, lease: number) =>
    new LocalFirstLimiter({ redis, policy, budget, timeoutMs: config.timeoutMs, lease });
  const shared = (policy: string, budget: RateBudget) =>
    limiter(policy, budget, Math.floor(budget.limit / LEASES_PER_WINDOW));
  return {
    perAddress: shared("address", config.perAddress),
    claimPerUser: limiter("user-claims", config.claimPerUser, 1),
    routes: Object.entries(config.routes).map(([route, budget], i) => {
      const [method = "", path = ""] = route.split(" ");
      const pattern = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}/]+\}/g, "[^/]+");
      return {
        method: method.toUpperCase(),
        path: new RegExp(`^${pattern}$`),
        limiter: shared(`address-route-${i}`, budget),
      };
    }),
  };
}
