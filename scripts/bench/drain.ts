/** scripts/bench-drain.ts as a child of the benchmark (`--drain`), on a stack of its own. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { log } from "./log.ts";
import { ROOT } from "./options.ts";
import type { BenchFile } from "./result.ts";

/** bench-drain's process group while it runs. */
let drainPid: number | undefined;

/** Signals bench-drain's process group, if it runs. */
export function killDrain(sig: NodeJS.Signals): void {
  if (drainPid === undefined) return;
  try {
    process.kill(-drainPid, sig);
  } catch {
    // already gone
  }
}

/**
 * Runs scripts/bench-drain.ts in a process group of its own (its stack included), at most
 * 5 minutes, and returns what it printed.
 */
export function runDrain(claims: number): Promise<NonNullable<BenchFile["drain"]>> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", "bench-drain.ts")], {
      cwd: ROOT,
      env: { ...process.env, BENCH_CLAIMS: String(claims) },
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    drainPid = child.pid;
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => {
      log("drain: no result within 5 minutes; stopping it");
      killDrain("SIGTERM");
      setTimeout(() => killDrain("SIGKILL"), 10_000).unref();
    }, 300_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      drainPid = undefined;
      done(
        code === 0
          ? { claims, output: out.trim() }
          : { claims, failed: `bench-drain exited ${signal ?? code}\n${out.trim()}` },
      );
    });
  });
}
