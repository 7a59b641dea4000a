/** What ran the benchmark: commit, machine, runtime versions (the report's header table). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "./options.ts";
import type { Meta } from "./result.ts";

export function meta(runtime: "current" | "pre", fronts: number): Meta {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const pkg = (name: string) =>
    (
      JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  let commit = "unknown";
  try {
    const git = (...a: string[]) =>
      execFileSync("git", a, {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    commit = git("rev-parse", "--short", "HEAD");
    const dirty = git(
      "status",
      "--porcelain",
      "--untracked-files=no",
      "--",
      "worker.ts",
      "src",
      "durable-objects",
      "domain",
      "platform",
      "wrangler.toml",
    );
    if (dirty !== "") commit += " + uncommitted changes";
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    commit,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    workerd: runtime === "pre" ? pkg("workerd-1.20261013.1") : pkg("workerd"),
    fronts,
    undici: pkg("undici"),
    clkTck: Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100,
    loadAvg: loadavg()[0] ?? 0,
  };
}
