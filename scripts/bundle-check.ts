/**
 * `npm run check` and `npm test`: `wrangler deploy --dry-run` for every environment of
 * wrangler.toml (the base one and each `[env.<name>]`), which validates the configuration and
 * builds the bundle without an account, then fails when a bundle's gzipped size is over the
 * budget in .ci/bundle-budget.json (cold starts load the whole Worker).
 *
 *   node scripts/bundle-check.ts            every environment
 *   node scripts/bundle-check.ts staging    just these
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "..");
export const BUDGET_FILE = join(ROOT, ".ci", "bundle-budget.json");

/** The environments wrangler.toml defines; "" is the base (what `npm start` and tests use). */
export function environmentsOf(toml: string): string[] {
  const names = [...toml.matchAll(/^\[env\.([A-Za-z0-9_-]+)\]\s*$/gm)].map((m) => m[1] as string);
  return ["", ...new Set(names)];
}

export function readBudget(file = BUDGET_FILE): number {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as { gzipKiB?: unknown };
  if (typeof parsed.gzipKiB !== "number" || !(parsed.gzipKiB > 0)) {
    throw new Error(`${file}: gzipKiB must be a positive number`);
  }
  return parsed.gzipKiB;
}

/** The gzipped size of the bundle's JavaScript (source maps are not uploaded to run). */
export function gzippedKiB(outdir: string): number {
  let bytes = 0;
  for (const name of readdirSync(outdir)) {
    if (name.endsWith(".js") || name.endsWith(".mjs")) {
      bytes += gzipSync(readFileSync(join(outdir, name))).length;
    }
  }
  return bytes / 1024;
}

/** Null when within budget, else what to say. */
export function overBudget(env: string, kib: number, budget: number): string | null {
  if (kib <= budget) return null;
  return `${label(env)}: the bundle is ${kib.toFixed(1)} KiB gzipped, over the budget of ${budget} KiB (.ci/bundle-budget.json)`;
}

const label = (env: string) => (env ? `--env ${env}` : "base config");

function dryRun(env: string, outdir: string): Promise<{ code: number | null; output: string }> {
  const args = ["deploy", "--dry-run", "--outdir", outdir, env ? `--env=${env}` : "--env="];
  const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, {
    cwd: ROOT,
    // No telemetry, no update check: this runs in CI and offline.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1", CI: "1" },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((done) => child.once("close", (code) => done({ code, output })));
}

/** One environment's dry run and size, as one line of the report. */
async function checkOne(env: string, budget: number): Promise<string> {
  const outdir = join(ROOT, ".local", `dry-run-${env || "base"}-${process.pid}`);
  try {
    const { code, output } = await dryRun(env, outdir);
    if (code !== 0) {
      return `✖ ${label(env)}: wrangler deploy --dry-run failed (exit ${code})\n${output}`;
    }
    const kib = gzippedKiB(outdir);
    const over = overBudget(env, kib, budget);
    return over
      ? `✖ ${over}`
      : `✔ ${label(env)}: ${kib.toFixed(1)} KiB gzipped (budget ${budget} KiB)`;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const all = environmentsOf(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  const wanted = process.argv.slice(2);
  const envs = wanted.length > 0 ? wanted : all;
  const budget = readBudget();
  // In parallel: each is mostly waiting on esbuild and wrangler's start-up.
  const results = await Promise.all(envs.map((env: string) => checkOne(env, budget)));
  for (const line of results) {
    if (line.startsWith("✖")) console.error(line);
    else console.log(line);
  }
  const failed = results.filter((line) => line.startsWith("✖")).length;
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
