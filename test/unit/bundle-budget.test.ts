import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { environmentsOf, gzippedKiB, overBudget, readBudget } from "../../scripts/bundle-check.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

describe("the bundle budget (scripts/bundle-check.ts, run by npm test and npm run check)", () => {
  it("dry-runs the base config and every environment wrangler.toml defines", () => {
    const envs = environmentsOf(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
    expect(envs).toEqual(["", "staging", "production"]);
  });

  it("has a budget in the repository, above today's size", () => {
    const budget = readBudget();
    const file = JSON.parse(readFileSync(join(ROOT, ".ci", "bundle-budget.json"), "utf8")) as {
      measuredGzipKiB: number;
    };
    expect(budget).toBeGreaterThan(file.measuredGzipKiB);
  });

  it("measures the gzipped JavaScript only and fails past the budget", () => {
    const dir = mkdtempSync(join(tmpdir(), "bundle-"));
    try {
      const code = Buffer.from(crypto.getRandomValues(new Uint8Array(40_000)));
      writeFileSync(join(dir, "worker.js"), code);
      writeFileSync(join(dir, "worker.js.map"), Buffer.alloc(500_000, 1));
      const kib = gzippedKiB(dir);
      expect(kib).toBeCloseTo(gzipSync(code).length / 1024, 5);
      expect(overBudget("staging", kib, 100)).toBeNull();
      expect(overBudget("staging", kib, 30)).toMatch(/--env staging: .* over the budget of 30 KiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
