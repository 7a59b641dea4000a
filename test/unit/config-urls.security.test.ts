/**
 * Every URL that carries a secret (database credentials, the Redis and Kafka tokens, the alert
 * webhook, siteverify's secret, the analytics token) must be https://, except on loopback (the
 * local cloud). A refusal names the setting and its rule, never the URL.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../platform/config.ts";

const BASE = { JWT_SECRET: "s".repeat(32), ADMIN_TOKEN: "a".repeat(16) };

/** The settings each one goes with (all of a group or none). */
const COMPANIONS: Record<string, Record<string, string>> = {
  KAFKA_REST_URL: { KAFKA_REST_USERNAME: "u", KAFKA_REST_PASSWORD: "p" },
  UPSTASH_REDIS_REST_URL: { UPSTASH_REDIS_REST_TOKEN: "t" },
  ANALYTICS_SQL_URL: { CF_ACCOUNT_ID: "0".repeat(32), CF_ANALYTICS_TOKEN: "t" },
};

/** Each setting, with the credentials it needs to be a valid URL of its kind. */
const SETTINGS: Record<string, (host: string, scheme: string) => string> = {
  DATABASE_URL: (h, s) => `${s}://user:secret-password@${h}`,
  KAFKA_REST_URL: (h, s) => `${s}://${h}/kafka`,
  UPSTASH_REDIS_REST_URL: (h, s) => `${s}://${h}`,
  ALERT_WEBHOOK_URL: (h, s) => `${s}://${h}/hooks/T000/B000/secret-path`,
  TURNSTILE_VERIFY_URL: (h, s) => `${s}://${h}/turnstile/v0/siteverify`,
  ANALYTICS_SQL_URL: (h, s) => `${s}://${h}/client/v4/accounts/{account}/analytics_engine/sql`,
};

const LOOPBACK = [
  "127.0.0.1",
  "127.0.0.1:8791",
  "127.8.9.10",
  "localhost",
  "localhost:4000",
  "[::1]",
  "[::1]:80",
];
const REMOTE = [
  "example.com",
  "10.0.0.5",
  "192.168.1.20:8080",
  "0.0.0.0",
  "[::]",
  "[::ffff:7f00:1]",
  "localhost.evil.example",
  "127.0.0.1.nip.io",
  "evil-localhost",
  "169.254.169.254",
];

function fault(setting: string, url: string): string | null {
  try {
    parseConfig({ ...BASE, ...COMPANIONS[setting], [setting]: url });
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.message).not.toContain(url);
    expect(err.message).not.toContain("secret");
    return err.problems.join("; ");
  }
}

describe("URLs that carry secrets", () => {
  for (const [setting, url] of Object.entries(SETTINGS)) {
    it(`${setting}: https anywhere, http on loopback only`, () => {
      for (const host of [...LOOPBACK, ...REMOTE]) {
        expect(fault(setting, url(host, "https")), `https ${host}`).toBeNull();
      }
      for (const host of LOOPBACK) expect(fault(setting, url(host, "http")), host).toBeNull();
      for (const host of REMOTE) {
        const problem = fault(setting, url(host, "http"));
        expect(problem, `http ${host}`).toContain(`${setting}: must be https://`);
      }
      for (const scheme of ["ftp", "ws", "file"]) {
        expect(fault(setting, url("example.com", scheme)), scheme).toContain(setting);
      }
    });
  }
});
