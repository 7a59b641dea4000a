import { describe, expect, it } from "vitest";
import { parseConfig } from "../../platform/config.ts";
import { deployChecks, reportDeployChecksOnce } from "../../platform/deploy-checks.ts";

/** Distinctive values: none of them may ever appear in a report or a log line. */
const SECRETS = {
  JWT_SECRET: "jwt-secret-value-zq9XkP2mW7rT4vB8nL1cY6hD3",
  ADMIN_TOKEN: "admin-token-value-Hq7Rz2Lk9",
};
const FULL = {
  ...SECRETS,
  DATABASE_URL: "https://db-user-Xy7:db-pass-Qw8@aws.connect.psdb.cloud",
  KAFKA_PROTOCOL: "rest-v2",
  KAFKA_REST_URL: "https://kafka.internal.test",
  KAFKA_REST_USERNAME: "kafka-user-Pz3",
  KAFKA_REST_PASSWORD: "kafka-pass-Mn4",
  UPSTASH_REDIS_REST_URL: "https://redis-Vb5.upstash.io",
  UPSTASH_REDIS_REST_TOKEN: "redis-token-Jk6",
  CF_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  CF_ANALYTICS_TOKEN: "analytics-token-Gh7",
  ALERT_WEBHOOK_URL: "https://hooks.slack.test/services/T0/B0/secret-Fd9",
};
const VALUES = Object.values(FULL).filter((v) => v !== "rest-v2");

function run(bindings: Record<string, string>) {
  const env = { ...bindings };
  const config = parseConfig(env);
  const lines: string[] = [];
  reportDeployChecksOnce(env, config, (line) => lines.push(line));
  reportDeployChecksOnce(env, config, (line) => lines.push(line));
  return { report: deployChecks(env, config), lines };
}

const names = (checks: { name: string }[]) => checks.map((c) => c.name).sort();

describe("deploy checks", () => {
  it("a production Worker without Redis or the Analytics Engine token says so once", () => {
    const {
      UPSTASH_REDIS_REST_URL,
      UPSTASH_REDIS_REST_TOKEN,
      CF_ANALYTICS_TOKEN,
      CF_ACCOUNT_ID,
      ...rest
    } = FULL;
    const { report, lines } = run({ ...rest, DEPLOY_ENV: "production" });
    expect(report.environment).toBe("production");
    expect(names(report.warnings)).toEqual(["analytics", "redis"]);
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0] as string) as {
      level: string;
      warnings: { check: string }[];
    };
    expect(logged.level).toBe("warn");
    expect(logged.warnings.map((w) => w.check).sort()).toEqual(["analytics", "redis"]);
    expect(report.settings.UPSTASH_REDIS_REST_URL).toBe("default");
    expect(report.settings.DATABASE_URL).toBe("set");
  });

  it("a complete production Worker is silent, and every check is ok", () => {
    const { report, lines } = run({ ...FULL, DEPLOY_ENV: "production" });
    expect(report.warnings).toEqual([]);
    expect(lines).toEqual([]);
    expect(report.checks.filter((c) => c.required).every((c) => c.state === "ok")).toBe(true);
  });

  it("the tests' secrets and Cloudflare's Turnstile test keys are reported as examples", () => {
    const { report, lines } = run({
      ...FULL,
      DEPLOY_ENV: "staging",
      ADMIN_TOKEN: "test-admin-token-0123456789",
      TURNSTILE_SITE_KEY: "1x00000000000000000000AA",
      TURNSTILE_SECRET: "1x0000000000000000000000000000000AA",
    });
    const states = Object.fromEntries(report.checks.map((c) => [c.name, c.state]));
    expect(states).toMatchObject({ secrets: "example", turnstile: "example" });
    expect(names(report.warnings)).toEqual(["secrets", "turnstile"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("test-admin-token-0123456789");
    expect(lines[0]).not.toContain("1x0000000000000000000000000000000AA");
  });

  it("never prints a value, in the log line or in the report", () => {
    const { report, lines } = run({ ...SECRETS, DEPLOY_ENV: "production" });
    const full = run({ ...FULL, DEPLOY_ENV: "production" });
    const text = [...lines, JSON.stringify(report), JSON.stringify(full.report)].join("\n");
    expect(lines).toHaveLength(1);
    for (const value of VALUES) expect(text).not.toContain(value);
  });

  it("a Worker that is not deployed (npm start, tests) logs nothing", () => {
    const { report, lines } = run({ ...SECRETS });
    expect(report.environment).toBeNull();
    expect(lines).toEqual([]);
  });

  it("DEPLOY_ENV takes only staging or production", () => {
    expect(() => parseConfig({ ...SECRETS, DEPLOY_ENV: "prod" })).toThrow(/DEPLOY_ENV/);
  });
});
