/**
 * One validated configuration, and `npm start` failing fast on a bad one: the schema's errors
 * name settings and never values; the bindings `npm start` gives workerd and how it checks them;
 * `.dev.vars` written with random secrets when missing; and `node local/stack.ts` itself exiting
 * non-zero, naming the setting, before it starts anything. Runs in Node.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { verify } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devVarsFile, ensureDevVars, localSettings, parseDevVars } from "../../local/dev-vars.ts";
import { freePort } from "../../local/servers/process.ts";
import { checkBindings, stackBindings } from "../../local/settings.ts";
import type { LocalCloud } from "../../local/stack-types.ts";
import { workerBindings } from "../../local/worker-bindings.ts";
import { ConfigError, parseConfig, SETTINGS } from "../../platform/config.ts";
import { servicesFor } from "../../platform/services.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
const GOOD = {
  JWT_SECRET: "a-jwt-secret-of-forty-characters-000000",
  ADMIN_TOKEN: "an-admin-token-0123",
};

/** The ConfigError `parseConfig` throws for these bindings (fails the test if none). */
function configError(bindings: Record<string, string>): ConfigError {
  try {
    parseConfig(bindings);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected an invalid configuration");
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "coupons-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the configuration schema", () => {
  it("parses every setting once, with defaults, into one typed object", () => {
    const config = parseConfig(GOOD);
    expect(config).toEqual({
      auth: {
        jwtSecret: GOOD.JWT_SECRET,
        adminToken: GOOD.ADMIN_TOKEN,
        jwt: { audience: null, issuer: null, maxLifetimeSeconds: 86_400, leewaySeconds: 5 },
      },
      http: { corsOrigins: "*", requestLog: "on" },
      redis: null,
      sinks: {
        mysql: null,
        kafka: null,
        timeoutMs: 5000,
        drain: {
          batchSize: 500,
          maxAttempts: 5,
          retryBaseMs: 250,
          retryMaxMs: 30_000,
          stepBudgetMs: 10_000,
        },
      },
      rateLimit: {
        claimPerUser: { limit: 10, windowSeconds: 10 },
        perAddress: { limit: 600, windowSeconds: 60 },
        routes: {},
        timeoutMs: 150,
      },
      turnstile: null,
      analytics: null,
      alerts: {
        webhookUrl: null,
        p95Ms: 2000,
        errorRatePct: 5,
        maxRps: 2000,
        outboxBacklog: 5000,
        outboxAgeSeconds: 60,
        sinkRetryingMinutes: 3,
        windowMinutes: 2,
        minRequests: 20,
      },
      deploy: { environment: null },
    });
  });

  it("parses the rate limits, per-route budgets included", () => {
    const { rateLimit } = parseConfig({
      ...GOOD,
      RATE_LIMIT_CLAIM_PER_USER: "3/5s",
      RATE_LIMIT_PER_ADDRESS: "1000000/60s",
      RATE_LIMIT_ROUTES: '{"POST /v1/events/{id}/claims":"100/10s","GET /v1/me/coupons":"5/1s"}',
      RATE_LIMIT_TIMEOUT_MS: "40",
    });
    expect(rateLimit).toEqual({
      claimPerUser: { limit: 3, windowSeconds: 5 },
      perAddress: { limit: 1_000_000, windowSeconds: 60 },
      routes: {
        "POST /v1/events/{id}/claims": { limit: 100, windowSeconds: 10 },
        "GET /v1/me/coupons": { limit: 5, windowSeconds: 1 },
      },
      timeoutMs: 40,
    });
  });

  it("configures a sink only when all of its settings are there", () => {
    const { sinks, redis } = parseConfig({
      ...GOOD,
      DATABASE_URL: "https://u:p@db.example",
      KAFKA_PROTOCOL: "rest-v2",
      KAFKA_REST_URL: "https://kafka.example",
      KAFKA_REST_USERNAME: "k",
      KAFKA_REST_PASSWORD: "kp",
      UPSTASH_REDIS_REST_URL: "",
      UPSTASH_REDIS_REST_TOKEN: "",
    });
    expect(sinks.mysql).toEqual({ url: "https://u:p@db.example" });
    expect(sinks.kafka).toMatchObject({ protocol: "rest-v2", topic: "coupon-events" });
    expect(redis).toBeNull(); // empty is unset
  });

  it("reads Analytics Engine only with both its settings, the account in the SQL API's URL", () => {
    const { analytics } = parseConfig({
      ...GOOD,
      CF_ACCOUNT_ID: "0123456789abcdef0123456789ABCDEF",
      CF_ANALYTICS_TOKEN: "analytics-token",
    });
    expect(analytics).toEqual({
      token: "analytics-token",
      dataset: "coupon_requests",
      sqlUrl:
        "https://api.cloudflare.com/client/v4/accounts/0123456789abcdef0123456789ABCDEF/analytics_engine/sql",
    });
  });

  const invalid: [string, Record<string, string>, string[]][] = [
    ["a short JWT_SECRET", { JWT_SECRET: "tiny-secret-7f3a" }, ["JWT_SECRET"]],
    ["a short ADMIN_TOKEN", { ADMIN_TOKEN: "adm-7f3a" }, ["ADMIN_TOKEN"]],
    ["no secrets at all", { JWT_SECRET: "", ADMIN_TOKEN: "" }, ["JWT_SECRET", "ADMIN_TOKEN"]],
    ["a DATABASE_URL that is no URL", { DATABASE_URL: "mysql-7f3a" }, ["DATABASE_URL"]],
    [
      "a DATABASE_URL without credentials",
      { DATABASE_URL: "https://db-7f3a.example" },
      ["DATABASE_URL"],
    ],
    [
      "half a Kafka config",
      { KAFKA_REST_URL: "https://kafka-7f3a.example", KAFKA_REST_USERNAME: "user-7f3a" },
      ["KAFKA_REST_PASSWORD"],
    ],
    [
      "half an Upstash Redis config",
      { UPSTASH_REDIS_REST_TOKEN: "token-7f3a" },
      ["UPSTASH_REDIS_REST_URL"],
    ],
    ["half an Analytics Engine config", { CF_ANALYTICS_TOKEN: "token-7f3a" }, ["CF_ACCOUNT_ID"]],
    [
      "a CF_ACCOUNT_ID that is no account id",
      { CF_ACCOUNT_ID: "account-7f3a", CF_ANALYTICS_TOKEN: "token-7f3a" },
      ["CF_ACCOUNT_ID"],
    ],
    ["a METRICS_DATASET that is no name", { METRICS_DATASET: "x; DROP 7f3a" }, ["METRICS_DATASET"]],
    ["an unknown KAFKA_PROTOCOL", { KAFKA_PROTOCOL: "kafka-7f3a" }, ["KAFKA_PROTOCOL"]],
    ["a SINK_BATCH_SIZE that is no number", { SINK_BATCH_SIZE: "7f3a" }, ["SINK_BATCH_SIZE"]],
    [
      "a retry base over its maximum",
      { SINK_RETRY_BASE_MS: "5000", SINK_RETRY_MAX_MS: "1000" },
      ["SINK_RETRY_BASE_MS"],
    ],
    [
      "a malformed per-user budget",
      { RATE_LIMIT_CLAIM_PER_USER: "10 per 7f3a" },
      ["RATE_LIMIT_CLAIM_PER_USER"],
    ],
    ["a zero-second window", { RATE_LIMIT_PER_ADDRESS: "600/0s" }, ["RATE_LIMIT_PER_ADDRESS"]],
    ["per-route budgets that are no JSON", { RATE_LIMIT_ROUTES: "{7f3a" }, ["RATE_LIMIT_ROUTES"]],
    [
      "a per-route budget keyed by no route",
      { RATE_LIMIT_ROUTES: '{"claims-7f3a":"1/1s"}' },
      ["RATE_LIMIT_ROUTES"],
    ],
    [
      "a per-route budget that is no budget",
      { RATE_LIMIT_ROUTES: '{"POST /v1/events/{id}/claims":"7f3a"}' },
      ["RATE_LIMIT_ROUTES"],
    ],
    [
      "a fractional RATE_LIMIT_TIMEOUT_MS",
      { RATE_LIMIT_TIMEOUT_MS: "1.5" },
      ["RATE_LIMIT_TIMEOUT_MS"],
    ],
  ];

  for (const [what, bindings, settings] of invalid) {
    it(`refuses ${what}, naming the setting and never its value`, () => {
      const err = configError({ ...GOOD, ...bindings });
      expect(err.settings).toEqual(settings);
      for (const name of settings) expect(err.message).toContain(`${name}: `);
      // Every value above carries "7f3a"; none of it may reach the message.
      expect(err.message).not.toContain("7f3a");
      expect(err.message.startsWith("invalid configuration: ")).toBe(true);
    });
  }

  it("reports every wrong setting at once", () => {
    const err = configError({
      JWT_SECRET: "short",
      DATABASE_URL: "nope",
      KAFKA_REST_URL: "https://kafka.example",
      RATE_LIMIT_TIMEOUT_MS: "soon",
    });
    expect(err.settings.sort()).toEqual(
      [
        "ADMIN_TOKEN",
        "DATABASE_URL",
        "JWT_SECRET",
        "KAFKA_REST_PASSWORD",
        "KAFKA_REST_USERNAME",
        "RATE_LIMIT_TIMEOUT_MS",
      ].sort(),
    );
  });

  it("Turnstile: site key and secret together, Cloudflare's siteverify by default", () => {
    const on = parseConfig({ ...GOOD, TURNSTILE_SITE_KEY: "site", TURNSTILE_SECRET: "secret" });
    expect(on.turnstile).toEqual({
      siteKey: "site",
      secret: "secret",
      verifyUrl: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
      timeoutMs: 3000,
      hostnames: null,
    });
    const listed = parseConfig({
      ...GOOD,
      TURNSTILE_SITE_KEY: "site",
      TURNSTILE_SECRET: "secret",
      TURNSTILE_HOSTNAMES: "Shop.Example, coupons.example",
    });
    expect(listed.turnstile?.hostnames).toEqual(["shop.example", "coupons.example"]);
    expect(configError({ ...GOOD, TURNSTILE_HOSTNAMES: "a b, " }).settings).toEqual([
      "TURNSTILE_HOSTNAMES",
    ]);
    expect(configError({ ...GOOD, TURNSTILE_SECRET: "secret" }).settings).toEqual([
      "TURNSTILE_SITE_KEY",
    ]);
    expect(
      configError({
        ...GOOD,
        TURNSTILE_SITE_KEY: "s",
        TURNSTILE_SECRET: "x",
        TURNSTILE_VERIFY_URL: "ftp://x",
      }).settings,
    ).toEqual(["TURNSTILE_VERIFY_URL"]);
  });

  it("in the Worker, is parsed once per set of bindings", () => {
    const env = { ...GOOD, JWT_SECRET: "short" };
    const configFrom = (bindings: object) => servicesFor(bindings).config;
    let first: unknown;
    try {
      configFrom(env);
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(ConfigError);
    const err = first as ConfigError;
    expect(err.settings).toEqual(["JWT_SECRET"]);
    // The same error object again: not re-parsed (nor re-logged) per request.
    expect(() => configFrom(env)).toThrow(err);
    const good = { ...GOOD };
    expect(configFrom(good)).toBe(configFrom(good));
  });
});

describe("the bindings npm start gives workerd", () => {
  const cloud = {
    planetscale: { url: "http://coupons:ps@127.0.0.1:1", host: "127.0.0.1:1" },
    upstashRedis: { url: "http://127.0.0.1:2", token: "redis-token" },
    kafka: { url: "http://127.0.0.1:3", username: "coupons", password: "kafka" },
    turnstile: { url: "http://127.0.0.1:4", secret: "turnstile-secret" },
  } as LocalCloud;

  it("with the local cloud: its endpoints, then the user's settings over the local defaults", () => {
    const { bindings, ignored } = stackBindings(
      { ...GOOD, DATABASE_URL: "https://u:p@real.example", RATE_LIMIT_PER_ADDRESS: "5/1s" },
      cloud,
    );
    expect(bindings).toEqual({
      ...workerBindings(cloud),
      ...GOOD,
      RATE_LIMIT_PER_ADDRESS: "5/1s",
    });
    expect(ignored).toEqual(["DATABASE_URL"]);
    expect(checkBindings(bindings).sinks.mysql?.url).toBe(cloud.planetscale.url);
  });

  it("before the cloud has started: only what the user controls", () => {
    const values = { ...GOOD, DATABASE_URL: "not a url", SINK_TIMEOUT_MS: "100" };
    const early = stackBindings(values, null, true);
    expect(early.bindings).toEqual({ ...GOOD, SINK_TIMEOUT_MS: "100" });
    expect(early.ignored).toEqual(["DATABASE_URL"]);
    // Without the cloud the user's sinks are used, so they are checked.
    const off = stackBindings(values, null, false);
    expect(off.bindings).toEqual(values);
    expect(() => checkBindings(off.bindings)).toThrow(/DATABASE_URL: /);
  });

  it("passes on every setting the Worker reads, and nothing else", () => {
    const env = Object.fromEntries([
      ...SETTINGS.map((name) => [name, `v-${name}`]),
      ["HOME", "/home/x"],
      ["COUPON_LOCAL_CLOUD", "off"],
    ]);
    const file = join(dir, "absent.dev.vars");
    expect(Object.keys(localSettings(file, SETTINGS, env)).sort()).toEqual([...SETTINGS].sort());
  });
});

describe(".dev.vars", () => {
  it("is written with random secrets, mode 0600, when missing, and never overwritten", () => {
    const file = join(dir, "fresh.dev.vars");
    expect(ensureDevVars(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const vars = parseDevVars(readFileSync(file, "utf8"));
    expect(vars.JWT_SECRET?.length).toBeGreaterThanOrEqual(48);
    expect(vars.ADMIN_TOKEN?.length).toBeGreaterThanOrEqual(32);
    expect(() => checkBindings(vars)).not.toThrow();

    const before = readFileSync(file, "utf8");
    expect(ensureDevVars(file)).toBe(false);
    expect(readFileSync(file, "utf8")).toBe(before);

    const other = join(dir, "other.dev.vars");
    expect(ensureDevVars(other)).toBe(true);
    expect(parseDevVars(readFileSync(other, "utf8")).JWT_SECRET).not.toBe(vars.JWT_SECRET);
  });

  it("the environment wins over it; the example file is never a source", () => {
    const file = join(dir, "precedence.dev.vars");
    writeFileSync(file, "JWT_SECRET=from-file\nADMIN_TOKEN=admin-from-file\n");
    expect(localSettings(file, ["JWT_SECRET", "ADMIN_TOKEN"], { JWT_SECRET: "from-env" })).toEqual({
      JWT_SECRET: "from-env",
      ADMIN_TOKEN: "admin-from-file",
    });
    expect(localSettings(join(dir, "none"), ["JWT_SECRET"], {})).toEqual({});
    expect(devVarsFile(REPO, {})).toBe(join(REPO, ".dev.vars"));
    expect(devVarsFile(REPO, { COUPON_DEV_VARS: file })).toBe(file);
  });
});

/** A child process's exit code and everything it printed; killed (and failed) past `timeoutMs`. */
function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`${args.join(" ")} still running after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/** The environment of a child: this one without any setting of the service, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of SETTINGS) delete env[name];
  delete env.COUPON_DEV_VARS;
  return { ...env, ...extra };
}

describe("npm start (node local/stack.ts) with an invalid configuration", () => {
  it("exits non-zero at once, naming JWT_SECRET and not its value, and starts nothing", async () => {
    const port = await freePort("127.0.0.1");
    const devVars = join(dir, "start-1.dev.vars");
    writeFileSync(devVars, "ADMIN_TOKEN=admin-token-from-dev-vars-0000\n", { mode: 0o600 });
    const { code, output } = await run(
      [join(REPO, "local", "stack.ts")],
      childEnv({
        JWT_SECRET: "tiny-secret-7f3a",
        COUPON_LOCAL_CLOUD: "off",
        PORT: String(port),
        COUPON_DEV_VARS: devVars,
      }),
    );
    expect(code).not.toBe(0);
    expect(output).toMatch(/JWT_SECRET: must be at least 32 characters/);
    expect(output).not.toContain("tiny-secret-7f3a");
    expect(output).not.toContain("ADMIN_TOKEN");
    expect(output).not.toContain("coupon service");
  });

  it("writes .dev.vars when missing, says so, and still stops on a bad RATE_LIMIT_*", async () => {
    const port = await freePort("127.0.0.1");
    const devVars = join(dir, "start-2.dev.vars");
    const { code, output } = await run(
      [join(REPO, "local", "stack.ts")],
      childEnv({
        RATE_LIMIT_PER_ADDRESS: "lots",
        COUPON_LOCAL_CLOUD: "off",
        PORT: String(port),
        COUPON_DEV_VARS: devVars,
      }),
    );
    expect(code).not.toBe(0);
    expect(output).toContain("RATE_LIMIT_PER_ADDRESS: ");
    expect(output).not.toMatch(/JWT_SECRET:|ADMIN_TOKEN:/); // the written secrets are valid
    expect(output).toMatch(
      /wrote .*start-2\.dev\.vars with a new random JWT_SECRET and ADMIN_TOKEN/,
    );
    expect(statSync(devVars).mode & 0o777).toBe(0o600);
    const vars = parseDevVars(readFileSync(devVars, "utf8"));
    expect(vars.JWT_SECRET?.length).toBeGreaterThanOrEqual(48);
    // The generated secrets are never printed.
    expect(output).not.toContain(vars.JWT_SECRET);
    expect(output).not.toContain(vars.ADMIN_TOKEN);
  });
});

describe("npm run token", () => {
  it("signs with the .dev.vars secret, writing it first when missing, never the example's", async () => {
    const devVars = join(dir, "token.dev.vars");
    const env = childEnv({ COUPON_DEV_VARS: devVars });
    const admin = await run([join(REPO, "scripts", "token.ts"), "--admin"], env);
    expect(admin.code).toBe(0);
    const vars = parseDevVars(readFileSync(devVars, "utf8"));
    expect(admin.output).toContain(`${vars.ADMIN_TOKEN}\n`);
    expect(admin.output).toMatch(/wrote .*token\.dev\.vars/);

    const user = await run([join(REPO, "scripts", "token.ts"), "alice"], env);
    expect(user.code).toBe(0);
    const jwt = user.output.trim().split("\n").at(-1) as string;
    const payload = await verify(jwt, vars.JWT_SECRET as string, "HS256");
    expect(payload.sub).toBe("alice");
    expect(user.output).not.toContain("wrote"); // the file exists now

    const example = parseDevVars(readFileSync(join(REPO, ".dev.vars.example"), "utf8"));
    expect(example.JWT_SECRET).toBeUndefined();
    expect(example.ADMIN_TOKEN).toBeUndefined();
  });

  it("refuses a secret npm start refuses, with npm start's message, and mints nothing", async () => {
    const devVars = join(dir, "token-bad.dev.vars");
    writeFileSync(devVars, "ADMIN_TOKEN=admin-token-from-dev-vars-0000\n", { mode: 0o600 });
    const env = childEnv({
      JWT_SECRET: "tiny-secret-7f3a",
      COUPON_LOCAL_CLOUD: "off",
      COUPON_DEV_VARS: devVars,
      PORT: String(await freePort("127.0.0.1")),
    });
    const start = await run([join(REPO, "local", "stack.ts")], env);
    for (const args of [["alice"], ["--admin"]]) {
      const token = await run([join(REPO, "scripts", "token.ts"), ...args], env);
      expect(token.code).toBe(1);
      expect(token.output).toMatch(/JWT_SECRET: must be at least 32 characters/);
      expect(token.output).toBe(start.output);
      expect(token.output).not.toContain("tiny-secret-7f3a");
      expect(token.output).not.toContain("admin-token-from-dev-vars");
    }
    // An empty variable overrides the file and counts as unset, for both.
    const empty = await run([join(REPO, "scripts", "token.ts"), "alice"], {
      ...env,
      JWT_SECRET: "",
    });
    expect(empty.code).toBe(1);
    expect(empty.output).toContain("JWT_SECRET: is required");
  });
});
