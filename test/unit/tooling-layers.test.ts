import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * local/ is the stack (local cloud, workerd runner); scripts/ and loadtest/ are tools standing on
 * it. Arrows point from the tools down to local/, never up: the stack runs without them.
 */
const ROOT = resolve(import.meta.dirname, "..", "..");
const TOOLS = ["scripts", "loadtest"];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Relative specifiers of static and dynamic imports, re-exports and `new URL(…, import.meta.url)`. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const patterns = [
    /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']/g,
    /import\(\s*["']([^"']+)["']\s*\)/g,
    /new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url\s*\)/g,
  ];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1] as string));
}

describe("tooling layers", () => {
  const files = sources("local");

  it("finds the stack's sources", () => {
    expect(files).toContain(join("local", "worker.ts"));
  });

  it("no file in local/ imports from scripts/ or loadtest/", () => {
    const upward = files.flatMap((file) =>
      specifiers(file)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => ({ file, spec, target: relative(ROOT, resolve(ROOT, dirname(file), spec)) }))
        .filter(({ target }) => TOOLS.some((t) => target === t || target.startsWith(`${t}${sep}`)))
        .map(({ file, spec }) => `${file} → ${spec}`),
    );
    expect(upward).toEqual([]);
  });
});
