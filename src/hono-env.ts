import type { RequestIdVariables } from "hono/request-id";
import type { Config } from "./config.ts";

/** Shared by every route: bindings, and what middleware puts on the context. */
export interface HonoEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    /** The `sub` of a verified user token (set by `requireUser`). */
    userId: string;
  };
}
