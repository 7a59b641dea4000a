import { type Config, SETTINGS } from "./config.ts";

/**
 * What a deployed Worker is missing (docs/deploy.md). The service runs without Redis, without the
 * Analytics Engine token or with a test secret, and nothing fails: that is the danger. A deployed
 * Worker (DEPLOY_ENV set by wrangler.toml's environments) says so once per isolate in its logs and
 * on `GET /v1/admin/config`. Only names and states, never a value, leave this file.
 */
export type CheckState = "ok" | "missing" | "example";

export interface DeployCheck {
  name: string;
  state: CheckState;
  /** The settings the check reads. */
  settings: string[];
  /** Whether a deployment should have it (an optional feature only warns with an example value). */
  required: boolean;
  /** What the service does without it. */
  effect: string;
}

export interface DeployReport {
  environment: "staging" | "production" | null;
  checks: DeployCheck[];
  /** The checks that need the operator: a required one not ok, or any example value. */
  warnings: DeployCheck[];
  /** Every setting the service reads: `set` in the bindings, or `default` (absent or empty). */
  settings: Record<string, "set" | "default">;
}

/**
 * Values published where anyone can read them: the tests' fixed secrets (vitest.config.ts) and
 * Cloudflare's Turnstile test keys (which always pass, fail or are spent, whatever the visitor).
 */
const PUBLIC_SECRETS = new Set([
  "test-jwt-secret-0123456789abcdef-0123456789",
  "test-admin-token-0123456789",
]);
const TURNSTILE_TEST_KEY = /^[123]x0{20,}[A-F]{2}$/;
const PLACEHOLDER = /change-?me|example|placeholder|^<.*>$/i;

const isExample = (value: string | undefined | null): boolean =>
  typeof value === "string" &&
  (PUBLIC_SECRETS.has(value) || TURNSTILE_TEST_KEY.test(value) || PLACEHOLDER.test(value));

function check(
  name: string,
  settings: string[],
  required: boolean,
  effect: string,
  present: boolean,
  example = false,
): DeployCheck {
  const state: CheckState = example ? "example" : present ? "ok" : "missing";
  return { name, state, settings, required, effect };
}

export function deployChecks(env: object, config: Config): DeployReport {
  const raw = env as Record<string, unknown>;
  const checks = [
    check(
      "secrets",
      ["JWT_SECRET", "ADMIN_TOKEN"],
      true,
      "anyone who knows the example value can sign user tokens or act as the operator",
      true,
      isExample(config.auth.jwtSecret) || isExample(config.auth.adminToken),
    ),
    check(
      "redis",
      ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"],
      true,
      "no rate limits (every budget is open) and no shared snapshots: every read and refusal wakes the event's object",
      config.redis !== null,
    ),
    check(
      "analytics",
      ["CF_ACCOUNT_ID", "CF_ANALYTICS_TOKEN"],
      true,
      "alerts and /v1/admin/metrics/summary see only the one isolate that evaluates them, not the service",
      config.analytics !== null,
    ),
    check(
      "alert-webhook",
      ["ALERT_WEBHOOK_URL"],
      true,
      "alerts are evaluated and logged but posted nowhere",
      config.alerts.webhookUrl !== null,
    ),
    check(
      "mysql",
      ["DATABASE_URL"],
      true,
      "claims are not recorded in MySQL: GET /v1/me/coupons stays empty",
      config.sinks.mysql !== null,
    ),
    check(
      "kafka",
      ["KAFKA_REST_URL", "KAFKA_REST_USERNAME", "KAFKA_REST_PASSWORD"],
      true,
      "no coupon records on the Kafka topic",
      config.sinks.kafka !== null,
    ),
    check(
      "turnstile",
      ["TURNSTILE_SITE_KEY", "TURNSTILE_SECRET"],
      false,
      "claims are not checked for bots (optional)",
      config.turnstile !== null,
      isExample(config.turnstile?.secret) || isExample(config.turnstile?.siteKey),
    ),
  ];
  const warnings = checks.filter((c) => c.state === "example" || (c.required && c.state !== "ok"));
  const settings = Object.fromEntries(
    SETTINGS.map((name) => {
      const value = raw[name];
      return [name, typeof value === "string" && value !== "" ? "set" : "default"] as const;
    }),
  );
  return { environment: config.deploy.environment, checks, warnings, settings };
}

const reported = new WeakSet<object>();

/**
 * Logs a deployed Worker's warnings once per isolate (one JSON line, names and effects only).
 * Not deployed (no DEPLOY_ENV) or nothing missing: silent.
 */
export function reportDeployChecksOnce(
  env: object,
  config: Config,
  log: (line: string) => void = console.warn,
): void {
  if (reported.has(env)) return;
  reported.add(env);
  if (config.deploy.environment === null) return;
  const { warnings } = deployChecks(env, config);
  if (warnings.length === 0) return;
  log(
    JSON.stringify({
      level: "warn",
      msg: "deployed without production settings",
      environment: config.deploy.environment,
      warnings: warnings.map((w) => ({
        check: w.name,
        state: w.state,
        settings: w.settings,
        effect: w.effect,
      })),
      see: "GET /v1/admin/config and docs/deploy.md",
    }),
  );
}
