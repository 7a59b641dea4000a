import { z } from "zod";
import { optional, section } from "./fields.ts";

/** Where this Worker is deployed (docs/deploy.md); read only by platform/deploy-checks.ts. */
export const deploy = section({
  settings: {
    /** Set by wrangler.toml's environments. Unset = not deployed (local): no deploy checks. */
    DEPLOY_ENV: optional(
      z.enum(["staging", "production"], { error: "must be staging or production" }),
    ),
  },
  read: (s) => ({ environment: s.DEPLOY_ENV ?? null }),
});
