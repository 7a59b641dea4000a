/**
 * The service's whole configuration: one zod schema, parsed once per isolate from the bindings.
 * The Worker, its Durable Objects and `npm start` (which validates the bindings in Node before
 * workerd starts) all read it through here. Plain TypeScript and zod only, so Node can import it.
 */
import { z } from "zod";
import type { DrainPolicy } from "../domain/drain-policy.ts";

/** An absent binding and an empty one (`NAME=` in .dev.vars) both mean "not set". */
const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http(s) URL (${what})` });

/** Loopback hosts (the local cloud): the only place a secret may travel over plain http. */
export function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" ||
    hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/** A URL that carries a secret (in it, or in the requests sent to it): https, except on loopback. */
const secretUrl = (what: string) =>
  httpUrl(what).refine((url) => {
    try {
      const { protocol, hostname } = new URL(url);
      return protocol === "https:" || isLoopback(hostname);
    } catch {
      return true; // not a URL at all: already reported
    }
  }, "must be https:// (plain http only on loopback: localhost, 127.x.x.x, [::1])");

const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string({ error: "must be a whole number" })
      .regex(/^\d+$/, "must be a whole number")
      .default(String(fallback))
      .transform(Number)
      .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`)),
  );

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

/**
 * Every setting the service reads, by binding name. Unknown bindings (the Durable Object
 * namespace, test-only ones) are ignored.
 */
export const settingsSchema = z.object({
  /** HS256 key of user tokens. */
  JWT_SECRET: z.preprocess(
    unsetIfEmpty,
    z.string({ error: "is required" }).min(32, "must be at least 32 characters"),
  ),
  /** When set, a user token's `aud` must name it (a string or one of an array's). */
  JWT_AUDIENCE: optional(z.string().min(1).max(200)),
  /** When set, a user token's `iss` must be exactly this. */
  JWT_ISSUER: optional(z.string().min(1).max(200)),
  /** The longest a user token may still be valid for: an `exp` further ahead is refused. */
  JWT_MAX_LIFETIME_S: int(60, 31_536_000, 86_400),
  /** Seconds a token's `iat`/`nbf` may lie ahead of this clock (a client's fast clock). */
  JWT_CLOCK_LEEWAY_S: int(0, 300, 5),
  /** The operator's bearer token. */
  ADMIN_TOKEN: z.preprocess(
    unsetIfEmpty,
    z.string({ error: "is required" }).min(16, "must be at least 16 characters"),
  ),
  /** Comma-separated origins allowed by CORS; `*` (the default) suits bearer-token clients. */
  CORS_ORIGINS: z.preprocess(unsetIfEmpty, z.string().default("*")),

  /** PlanetScale connection URL with credentials, `https://user:password@host`. */
  DATABASE_URL: optional(
    secretUrl("https://<user>:<password>@<host>").refine((url) => {
      try {
        const { username, password } = new URL(url);
        return username !== "" && password !== "";
      } catch {
        return true; // not a URL at all: already reported
      }
    }, "must carry a username and a password (https://<user>:<password>@<host>)"),
  ),
  /** Kafka over HTTP: `upstash` (@upstash/kafka's REST protocol) or `rest-v2` (Kafka REST Proxy v2). */
  KAFKA_PROTOCOL: z.preprocess(
    unsetIfEmpty,
    z.enum(["upstash", "rest-v2"], { error: "must be upstash or rest-v2" }).default("upstash"),
  ),
  KAFKA_REST_URL: optional(secretUrl("the Kafka REST endpoint")),
  KAFKA_REST_USERNAME: optional(z.string()),
  KAFKA_REST_PASSWORD: optional(z.string()),
  KAFKA_TOPIC: z.preprocess(unsetIfEmpty, z.string().default("coupon-events")),
  UPSTASH_REDIS_REST_URL: optional(secretUrl("the Upstash Redis REST endpoint")),
  UPSTASH_REDIS_REST_TOKEN: optional(z.string()),

  /** How long one sink request may take before it counts as failed. */
  SINK_TIMEOUT_MS: int(100, 60_000, 5_000),
  /** Outbox rows per sink request. */
  SINK_BATCH_SIZE: int(1, 1000, 500),
  /** Refusals of one record before it is parked in the dead-letter table. */
  SINK_MAX_ATTEMPTS: int(1, 100, 5),
  SINK_RETRY_BASE_MS: int(10, 3_600_000, 250),
  SINK_RETRY_MAX_MS: int(10, 3_600_000, 30_000),

  /** Claims per user per window. */
  RATE_LIMIT_CLAIM_PER_USER: budget("10/10s"),
  /** Requests per client address per window, on each rate-limited route. */
  RATE_LIMIT_PER_ADDRESS: budget("600/60s"),
  /** JSON `{ "METHOD /path/{param}": "<count>/<seconds>s" }`: a route's own per-address budget. */
  RATE_LIMIT_ROUTES: routeBudgets,
  /** How long a rate-limit check may wait for Redis. */
  RATE_LIMIT_TIMEOUT_MS: int(1, 10_000, 150),

  /**
   * Turnstile on claims: set both to require a token (`CF-Turnstile-Response`) on every claim,
   * verified with siteverify; unset (the default), claims need none.
   */
  TURNSTILE_SECRET: optional(z.string().min(1)),
  /** The widget's public site key, which the claim page renders. */
  TURNSTILE_SITE_KEY: optional(z.string().min(1).max(100)),
  /** Cloudflare's siteverify; the local cloud serves a stand-in for tests. */
  TURNSTILE_VERIFY_URL: z.preprocess(
    unsetIfEmpty,
    secretUrl("Turnstile's siteverify endpoint").default(
      "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    ),
  ),
  /** How long a siteverify call may take before the claim is refused (fail closed). */
  TURNSTILE_TIMEOUT_MS: int(100, 30_000, 3_000),
  /**
   * Comma-separated hostnames the widget may have been solved on (siteverify's `hostname`);
   * unset, any. Set it in production: a token solved on another site is refused.
   */
  TURNSTILE_HOSTNAMES: optional(
    z.string().transform((text, ctx) => {
      const hostnames = text.split(",").map((h) => h.trim().toLowerCase());
      if (!hostnames.every((h) => /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(h))) {
        ctx.addIssue({ code: "custom", message: "must be hostnames, comma-separated" });
      }
      return hostnames;
    }),
  ),

  /**
   * `on` (the default): every error one JSON line, 2xx and 409 answers one line per second per
   * route, status and event (a crowd's claims would otherwise be a line each); `all`: one line per
   * request; `off`: none.
   */
  REQUEST_LOG: z.preprocess(
    unsetIfEmpty,
    z.enum(["on", "all", "off"], { error: "must be on, all or off" }).default("on"),
  ),

  /**
   * The request alerts read Workers Analytics Engine (every isolate's requests) when both are set:
   * the account id and an API token with Account Analytics Read. Unset, this isolate's aggregate.
   */
  CF_ACCOUNT_ID: optional(
    z.string().regex(/^[0-9a-f]{32}$/i, "must be the 32 hex digits of a Cloudflare account id"),
  ),
  CF_ANALYTICS_TOKEN: optional(z.string().min(1)),
  /** The Analytics Engine dataset the METRICS binding writes (wrangler.toml). */
  METRICS_DATASET: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a dataset name ([A-Za-z0-9_])")
      .default("coupon_requests"),
  ),
  /** The SQL API; `{account}` is replaced by CF_ACCOUNT_ID (tests point it at a stand-in). */
  ANALYTICS_SQL_URL: z.preprocess(
    unsetIfEmpty,
    secretUrl("the Analytics Engine SQL API").default(
      "https://api.cloudflare.com/client/v4/accounts/{account}/analytics_engine/sql",
    ),
  ),

  /** Where alerts are posted (Slack-compatible JSON); unset = alerts evaluated, not posted. */
  ALERT_WEBHOOK_URL: optional(secretUrl("a Slack-compatible incoming webhook")),
  /** Alert when a route's p95 over the last minutes is above this (the post-mortem's 2 s). */
  ALERT_P95_MS: int(1, 600_000, 2_000),
  /** Alert when 5xx answers are above this share of all answers, in percent (post-mortem: 5). */
  ALERT_ERROR_RATE_PCT: int(1, 100, 5),
  /** Alert when the service answers more requests per second than this. */
  ALERT_MAX_RPS: int(1, 10_000_000, 2_000),
  /** Alert when the outbox holds more rows than this, all events together. */
  ALERT_OUTBOX_BACKLOG: int(1, 100_000_000, 5_000),
  /** Alert when the oldest undelivered outbox row is older than this many seconds. */
  ALERT_OUTBOX_AGE_S: int(1, 86_400, 60),
  /** Alert when a sink has been `retrying` for this many minutes. */
  ALERT_SINK_RETRYING_MINUTES: int(1, 1_440, 3),
  /** Minutes of traffic the request rules look at; fewer requests than ALERT_MIN_REQUESTS, no verdict. */
  ALERT_WINDOW_MINUTES: int(1, 15, 2),
  ALERT_MIN_REQUESTS: int(1, 1_000_000, 20),

  // ── Deployment (issue 25, docs/deploy.md): additive, read only by platform/deploy-checks.ts ──
  /** Set by wrangler.toml's environments. Unset = not deployed (local): no deploy checks. */
  DEPLOY_ENV: optional(
    z.enum(["staging", "production"], { error: "must be staging or production" }),
  ),
});

/** The binding names the service reads (what `npm start` passes on from the environment). */
export const SETTINGS = Object.keys(settingsSchema.shape) as (keyof typeof settingsSchema.shape)[];

type Settings = z.output<typeof settingsSchema>;

/** Settings that only make sense together: all of them or none. */
const GROUPS: readonly (readonly (keyof Settings)[])[] = [
  ["KAFKA_REST_URL", "KAFKA_REST_USERNAME", "KAFKA_REST_PASSWORD"],
  ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"],
  ["CF_ACCOUNT_ID", "CF_ANALYTICS_TOKEN"],
  ["TURNSTILE_SECRET", "TURNSTILE_SITE_KEY"],
];

const configSchema = settingsSchema
  .superRefine(
    (s, ctx) => {
      if (typeof s !== "object" || s === null) return;
      for (const group of GROUPS) {
        const set = group.filter((name) => s[name] !== undefined);
        if (set.length === 0 || set.length === group.length) continue;
        for (const name of group.filter((n) => s[n] === undefined)) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `is required when ${set.join(" and ")} ${set.length > 1 ? "are" : "is"} set (${group.join(", ")} go together)`,
          });
        }
      }
      const { SINK_RETRY_BASE_MS: base, SINK_RETRY_MAX_MS: max } = s;
      if (typeof base === "number" && typeof max === "number" && base > max) {
        ctx.addIssue({
          code: "custom",
          path: ["SINK_RETRY_BASE_MS"],
          message: "must not exceed SINK_RETRY_MAX_MS",
        });
      }
      // Run even when single settings failed, so one error lists every problem at once.
    },
    { when: () => true },
  )
  .transform((s) => ({
    JWT_SECRET: s.JWT_SECRET,
    /** How user tokens are checked (HS256 with JWT_SECRET, always: the algorithm is pinned). */
    jwt: {
      audience: s.JWT_AUDIENCE ?? null,
      issuer: s.JWT_ISSUER ?? null,
      maxLifetimeSeconds: s.JWT_MAX_LIFETIME_S,
      leewaySeconds: s.JWT_CLOCK_LEEWAY_S,
    },
    ADMIN_TOKEN: s.ADMIN_TOKEN,
    CORS_ORIGINS: s.CORS_ORIGINS,
    sinks: sinkConfig(s),
    rateLimit: {
      claimPerUser: s.RATE_LIMIT_CLAIM_PER_USER,
      perAddress: s.RATE_LIMIT_PER_ADDRESS,
      /** Per-address budgets of single routes, keyed `METHOD /path/{param}`. */
      routes: s.RATE_LIMIT_ROUTES,
      timeoutMs: s.RATE_LIMIT_TIMEOUT_MS,
    },
    turnstile:
      s.TURNSTILE_SECRET && s.TURNSTILE_SITE_KEY
        ? {
            secret: s.TURNSTILE_SECRET,
            siteKey: s.TURNSTILE_SITE_KEY,
            verifyUrl: s.TURNSTILE_VERIFY_URL,
            timeoutMs: s.TURNSTILE_TIMEOUT_MS,
            hostnames: s.TURNSTILE_HOSTNAMES ?? null,
          }
        : null,
    REQUEST_LOG: s.REQUEST_LOG,
    /** Where this Worker is deployed (wrangler.toml's DEPLOY_ENV); null when it runs locally. */
    deployEnv: s.DEPLOY_ENV ?? null,
    analytics:
      s.CF_ACCOUNT_ID && s.CF_ANALYTICS_TOKEN
        ? {
            token: s.CF_ANALYTICS_TOKEN,
            dataset: s.METRICS_DATASET,
            sqlUrl: s.ANALYTICS_SQL_URL.replace("{account}", s.CF_ACCOUNT_ID),
          }
        : null,
    alerts: {
      webhookUrl: s.ALERT_WEBHOOK_URL ?? null,
      p95Ms: s.ALERT_P95_MS,
      errorRatePct: s.ALERT_ERROR_RATE_PCT,
      maxRps: s.ALERT_MAX_RPS,
      outboxBacklog: s.ALERT_OUTBOX_BACKLOG,
      outboxAgeSeconds: s.ALERT_OUTBOX_AGE_S,
      sinkRetryingMinutes: s.ALERT_SINK_RETRYING_MINUTES,
      windowMinutes: s.ALERT_WINDOW_MINUTES,
      minRequests: s.ALERT_MIN_REQUESTS,
    },
  }));

/**
 * Where the sinks live. Every sink is optional: one without configuration is `disabled`, and the
 * service still issues coupons (what `wrangler dev` without the local cloud gives you); a
 * half-configured one is an error, never silently disabled.
 */
export interface SinkConfig {
  mysql: { url: string } | null;
  kafka: {
    protocol: "upstash" | "rest-v2";
    url: string;
    username: string;
    password: string;
    topic: string;
  } | null;
  redis: { url: string; token: string } | null;
  timeoutMs: number;
  drain: DrainPolicy;
}

function sinkConfig(s: Settings): SinkConfig {
  return {
    mysql: s.DATABASE_URL ? { url: s.DATABASE_URL } : null,
    kafka:
      s.KAFKA_REST_URL && s.KAFKA_REST_USERNAME && s.KAFKA_REST_PASSWORD
        ? {
            protocol: s.KAFKA_PROTOCOL,
            url: s.KAFKA_REST_URL,
            username: s.KAFKA_REST_USERNAME,
            password: s.KAFKA_REST_PASSWORD,
            topic: s.KAFKA_TOPIC,
          }
        : null,
    redis:
      s.UPSTASH_REDIS_REST_URL && s.UPSTASH_REDIS_REST_TOKEN
        ? { url: s.UPSTASH_REDIS_REST_URL, token: s.UPSTASH_REDIS_REST_TOKEN }
        : null,
    timeoutMs: s.SINK_TIMEOUT_MS,
    drain: {
      batchSize: s.SINK_BATCH_SIZE,
      maxAttempts: s.SINK_MAX_ATTEMPTS,
      retryBaseMs: s.SINK_RETRY_BASE_MS,
      retryMaxMs: s.SINK_RETRY_MAX_MS,
      stepBudgetMs: 10_000,
    },
  };
}

export type Config = z.output<typeof configSchema>;
export type RateLimitConfig = Config["rateLimit"];

/**
 * Invalid configuration. Its message names each wrong setting and the rule it breaks, never a
 * value (they are secrets). Over HTTP it is a 503 `unavailable` whose detail names nothing.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** `NAME: rule` for each problem. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }

  /** The names of the settings at fault. */
  get settings(): string[] {
    return [...new Set(this.problems.map((p) => p.split(":", 1)[0] as string))];
  }
}

/** Parses the bindings; throws a `ConfigError` naming every wrong setting. */
export function parseConfig(bindings: object): Config {
  const parsed = configSchema.safeParse(bindings);
  if (parsed.success) return parsed.data;
  // Names and rules only: zod's own messages never quote the input, and ours do not either.
  throw new ConfigError(
    parsed.error.issues.map((i) => `${i.path.join(".") || "(bindings)"}: ${i.message}`),
  );
}

const cache = new WeakMap<object, Config | ConfigError>();

/**
 * The configuration of these bindings, parsed once per isolate. An invalid one is logged once
 * (names and rules only) and thrown as a `ConfigError` by every call.
 */
export function configFrom(env: object): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(
        JSON.stringify({ level: "error", msg: "invalid configuration", problems: err.problems }),
      );
      entry = err;
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}
