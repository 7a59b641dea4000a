import type { RequestIdVariables } from "hono/request-id";
import type { Config } from "../platform/config.ts";
import type { RateDecision } from "./lib/rate-limit.ts";
import type { ProblemSlug } from "./problems.ts";

/** Shared by every route: bindings, and what middleware puts on the context. */
export interface HonoEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    /** The `sub` of a verified user token (set by `requireUser`). */
    userId: string;
    /** The slug of a problem a route answered without throwing (metrics and logs read it). */
    problem?: ProblemSlug;
    /** Every rate budget this request was checked against (for the RateLimit headers). */
    rateLimits?: RateDecision[];
  };
}
