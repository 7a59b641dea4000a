import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Every TypeScript file is type-checked: each one is in the `include` of a root tsconfig, and
 * `npm run typecheck` and `npm test` (scripts/test.ts) run every root tsconfig. A file only
 * pulled in by an import does not count: once nothing imports it, nothing would check it.
 */
const ROOT = resolve(import.meta.dirname, "..", "..");

const CONFIGS = readdirSync(ROOT).filter((name) => /^tsconfig(\..+)?\.json$/.test(name));

/** The files a tsconfig names itself (its include minus its exclude), as absolute paths. */
function rootFiles(config: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, config), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!parsed) throw new Error(`${config}: unreadable`);
  return parsed.fileNames.map((f) => resolve(f));
}

/** Tracked and new (not ignored) .ts files that exist in the working tree, relative to ROOT. */
function tsFiles(): string[] {
  const out = execFileSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.ts"],
    { cwd: ROOT, encoding: "utf8" },
  );
  const files = out.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)));
  return [...new Set(files)].sort();
}

describe("tsconfig coverage", () => {
  it("every .ts file is included by at least one root tsconfig", () => {
    const covered = new Set(CONFIGS.flatMap(rootFiles));
    const files = tsFiles();
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !covered.has(join(ROOT, f)))).toEqual([]);
  });

  it("npm run typecheck and scripts/test.ts run every root tsconfig", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const typecheck = pkg.scripts.typecheck ?? "";
    const inScript = new Set([...typecheck.matchAll(/tsc -p (\S+)/g)].map((m) => m[1]));
    const testScript = readFileSync(join(ROOT, "scripts", "test.ts"), "utf8");
    for (const config of CONFIGS) {
      expect(inScript, `package.json "typecheck" runs ${config}`).toContain(config);
      expect(testScript, `scripts/test.ts runs ${config}`).toContain(`"-p", "${config}"`);
    }
  });
});
