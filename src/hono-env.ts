import type { RequestIdVariables } from "hono/request-id";
import type { RateDecision } from "./lib/rate-limit.ts";
import type { ProblemSlug } from "./problems.ts";
import type { EdgeServices } from "./services.ts";

/** Shared by every route: bindings, and what middleware puts on the context. */
export interface HonoEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    /** The isolate's configuration and clients (src/services.ts), set first on every request. */
    services: EdgeServices;
    /** The `sub` of a verified user token (set by `requireUser`). */
    userId: string;
    /** The slug of a problem a route answered without throwing (metrics and logs read it). */
    problem?: ProblemSlug;
    /** Every rate budget this request was checked against (for the RateLimit headers). */
    rateLimits?: RateDecision[];
  };
}
