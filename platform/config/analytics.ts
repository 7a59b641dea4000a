import { z } from "zod";
import { optional, secretUrl, section, withDefault } from "./fields.ts";

/**
 * The request alerts read Workers Analytics Engine (every isolate's requests) when the account
 * id and an API token with Account Analytics Read are both set. Unset, this isolate's aggregate.
 */
export const analytics = section({
  settings: {
    CF_ACCOUNT_ID: optional(
      z.string().regex(/^[0-9a-f]{32}$/i, "must be the 32 hex digits of a Cloudflare account id"),
    ),
    CF_ANALYTICS_TOKEN: optional(z.string().min(1)),
    /** The Analytics Engine dataset the METRICS binding writes (wrangler.toml). */
    METRICS_DATASET: withDefault(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a dataset name ([A-Za-z0-9_])")
        .default("coupon_requests"),
    ),
    /** The SQL API; `{account}` is replaced by CF_ACCOUNT_ID (tests point it at a stand-in). */
    ANALYTICS_SQL_URL: withDefault(
      secretUrl("the Analytics Engine SQL API").default(
        "https://api.cloudflare.com/client/v4/accounts/{account}/analytics_engine/sql",
      ),
    ),
  },
  together: [["CF_ACCOUNT_ID", "CF_ANALYTICS_TOKEN"]],
  read: (s) =>
    s.CF_ACCOUNT_ID && s.CF_ANALYTICS_TOKEN
      ? {
          token: s.CF_ANALYTICS_TOKEN,
          dataset: s.METRICS_DATASET,
          sqlUrl: s.ANALYTICS_SQL_URL.replace("{account}", s.CF_ACCOUNT_ID),
        }
      : null,
});
