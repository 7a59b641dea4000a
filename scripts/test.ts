/**
 * `npm test`: lint and format check, typecheck, then every test (Worker tests inside workerd,
 * local-cloud and process tests in Node) against a local cloud of its own (own ports and data
 * folder, removed afterwards).
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startLocalCloud } from "../local/cloud.ts";

const ROOT = resolve(import.meta.dirname, "..");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

/**
 * Runs one step as a child process. Asynchronous on purpose: the local cloud's gateway runs in
 * this process, and a blocking spawn would stop it from answering the tests.
 */
async function step(title: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const started = Date.now();
  console.log(`\n▶ ${title}`);
  const child = spawn(cmd, args, { stdio: "inherit", cwd: ROOT, env: { ...process.env, ...env } });
  const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
  if (code !== 0) {
    console.error(`✖ ${title} failed (exit ${code})`);
    throw new StepFailed();
  }
  console.log(`✔ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

class StepFailed extends Error {}

async function main(): Promise<number> {
  const t0 = Date.now();
  await step("biome (lint + format)", bin("biome"), ["check", "--error-on-warnings", "."]);
  await step("typecheck (worker)", bin("tsc"), ["-p", "tsconfig.json"]);
  await step("typecheck (node tooling)", bin("tsc"), ["-p", "tsconfig.node.json"]);
  await step("typecheck (Node tests of worker code)", bin("tsc"), ["-p", "tsconfig.tests.json"]);
  await step("typecheck (pages)", bin("tsc"), ["-p", "tsconfig.pages.json"]);
  // Every environment of wrangler.toml builds, and its bundle stays within .ci/bundle-budget.json.
  await step("wrangler deploy --dry-run (every environment) and bundle budget", process.execPath, [
    join(ROOT, "scripts", "bundle-check.ts"),
  ]);

  const dir = join(ROOT, ".local", `test-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  console.log("\n▶ starting the local cloud for tests");
  const cloud = await startLocalCloud({ root: join(dir, "cloud") });
  try {
    const stackFile = join(dir, "stack.json");
    writeFileSync(stackFile, JSON.stringify(cloud, null, 2));
    const args = ["run", ...process.argv.slice(2)];
    await step("vitest", bin("vitest"), args, { COUPON_STACK_FILE: stackFile });
  } finally {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nall checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (!(err instanceof StepFailed)) console.error(err);
    process.exit(1);
  },
);
