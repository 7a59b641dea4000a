import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: the Worker and its Durable Objects run inside workerd (Cloudflare's Vitest
// integration); the local cloud's conformance and process tests run in Node.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // Fixed test secrets: never read from .dev.vars, so a fresh clone behaves the same.
            miniflare: {
              bindings: {
                JWT_SECRET: "test-jwt-secret-0123456789abcdef-0123456789",
                ADMIN_TOKEN: "test-admin-token-0123456789",
              },
            },
          }),
        ],
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        test: {
          name: "node",
          include: [
            "test/local-cloud/**/*.test.ts",
            "test/stack/**/*.test.ts",
            "test/contract/**/*.test.ts",
            "test/unit/**/*.test.ts",
          ],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
