import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { StackFile } from "./local/stack-types.ts";
import { workerBindings } from "./local/worker-bindings.ts";

// `npm test` starts a local cloud and names its endpoints in COUPON_STACK_FILE. Without it the
// Worker's sinks are disabled and the tests that need the local cloud fail with a clear message.
const stackFile = process.env.COUPON_STACK_FILE;
const stack: StackFile | undefined = stackFile
  ? (JSON.parse(readFileSync(stackFile, "utf8")) as StackFile)
  : undefined;

/** The Worker and its Durable Objects inside workerd, pointed at the local cloud when there is one. */
const workers = ({ sinks = true, bindings = {} as Record<string, string> } = {}) =>
  cloudflareTest({
    wrangler: { configPath: "./wrangler.toml" },
    // The production Worker with the event's object opened for tests (test seams live there).
    main: "./test/worker/entry.ts",
    miniflare: {
      // Fixed test secrets: never read from .dev.vars, so a fresh clone behaves the same.
      bindings: {
        JWT_SECRET: "test-jwt-secret-0123456789abcdef-0123456789",
        ADMIN_TOKEN: "test-admin-token-0123456789",
        // One log line per request would bury the test output (test/worker/request-log.test.ts).
        REQUEST_LOG: "off",
        ...(stack && sinks
          ? {
              ...workerBindings(stack),
              COUPON_STACK: JSON.stringify(stack),
              // Faults are injected on purpose: keep retries and timeouts short.
              SINK_TIMEOUT_MS: "1500",
              SINK_RETRY_BASE_MS: "50",
              SINK_RETRY_MAX_MS: "500",
              SINK_MAX_ATTEMPTS: "3",
              // Small batches, so the suites drain through many full batches in a row.
              SINK_BATCH_SIZE: "64",
            }
          : {}),
        ...bindings,
      },
    },
  });

/** The rate-limit suite's budgets (test/worker-limits/rate-limits.test.ts reads the same). */
const RATE_LIMITS = {
  // These tests count budgets: a slow Redis on a loaded machine must not fail them open (the
  // fail-open path has its own test, test/worker-faults/redis-down.test.ts).
  RATE_LIMIT_TIMEOUT_MS: "5000",
  RATE_LIMIT_CLAIM_PER_USER: "3/10s",
  RATE_LIMIT_ROUTES: JSON.stringify({
    "GET /v1/events/{id}": "4/10s",
    "GET /problems/{slug}": "2/5s",
    "GET /": "100/60s",
  }),
};

// Worker tests run inside workerd (Cloudflare's Vitest integration); local-cloud, contract and
// process tests in Node. The fault tests break the shared gateway on purpose, so they run last
// and one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        // Tests that hammer one user on purpose (50 concurrent claims): limits are tested apart.
        plugins: [workers({ bindings: { RATE_LIMIT_CLAIM_PER_USER: "1000/10s" } })],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        plugins: [workers()],
        test: {
          name: "worker-faults",
          include: ["test/worker-faults/**/*.test.ts"],
          testTimeout: 120_000,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Small budgets, so the limits themselves can be tested (see RATE_LIMITS there).
        plugins: [workers({ bindings: RATE_LIMITS })],
        test: {
          name: "worker-limits",
          include: ["test/worker-limits/**/*.test.ts"],
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // No sink and no Redis configured. The drain tests here bring their own sinks (fakes
        // through the object's testHooks), and with no Redis their failures never reach the
        // /health totals the other projects read. A small drain policy keeps them short.
        plugins: [
          workers({
            sinks: false,
            bindings: {
              SINK_BATCH_SIZE: "4",
              SINK_MAX_ATTEMPTS: "3",
              SINK_RETRY_BASE_MS: "100",
              SINK_RETRY_MAX_MS: "400",
            },
          }),
        ],
        test: {
          name: "worker-nosinks",
          include: ["test/worker-nosinks/**/*.test.ts"],
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "node",
          include: [
            "test/local-cloud/**/*.test.ts",
            "test/stack/**/*.test.ts",
            "test/contract/**/*.test.ts",
            "test/unit/**/*.test.ts",
            "test/loadtest/**/*.test.ts",
            "clients/typescript/test/**/*.test.ts",
          ],
          environment: "node",
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
