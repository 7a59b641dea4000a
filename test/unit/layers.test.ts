import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The folders are the architecture: the edge (src/) and the objects (durable-objects/) never
 * import each other; both stand on domain/ (pure types, rules, views) and platform/ (configuration
 * and the cloud's clients); worker.ts alone names both to export them to the runtime.
 */
const ROOT = resolve(import.meta.dirname, "..", "..");
const LAYERS = ["src", "durable-objects", "domain", "platform"] as const;
type Layer = (typeof LAYERS)[number];

const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  src: ["src", "domain", "platform"],
  "durable-objects": ["durable-objects", "domain", "platform"],
  platform: ["platform", "domain"],
  domain: ["domain"],
};
/** Pure means no I/O: the domain may use a validation library and nothing of the runtime. */
const DOMAIN_PACKAGES = new Set(["zod"]);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
    ),
  ].map((m) => (m[1] ?? m[2]) as string);
}

function layerOf(path: string): Layer | null {
  const top = path.split("/")[0];
  return (LAYERS as readonly string[]).includes(top ?? "") ? (top as Layer) : null;
}

const edges = LAYERS.flatMap((layer) =>
  sources(layer).flatMap((file) =>
    imports(file).map((spec) => ({
      file,
      layer,
      spec,
      target: spec.startsWith(".")
        ? layerOf(relative(ROOT, resolve(ROOT, dirname(file), spec)))
        : null,
    })),
  ),
);

describe("the layers", () => {
  it("finds the imports it checks", () => {
    // A regex that matched nothing would pass every rule below.
    expect(edges.filter((e) => e.layer === "src" && e.target === "domain").length).toBeGreaterThan(
      10,
    );
    expect(
      edges.filter((e) => e.layer === "durable-objects" && e.target === "platform").length,
    ).toBeGreaterThan(3);
  });

  it("each folder imports only the layers below it", () => {
    const broken = edges
      .filter((e) => e.spec.startsWith("."))
      .filter((e) => e.target === null || !MAY_IMPORT[e.layer].includes(e.target))
      .map((e) => `${e.file} imports ${e.spec}`);
    expect(broken).toEqual([]);
  });

  it("the domain is pure: no runtime modules, no clients", () => {
    const impure = edges
      .filter((e) => e.layer === "domain" && !e.spec.startsWith("."))
      .filter((e) => !DOMAIN_PACKAGES.has(e.spec))
      .map((e) => `${e.file} imports ${e.spec}`);
    expect(impure).toEqual([]);
  });

  it("no module imports itself back, not even through types (a circle is a missing file)", () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) {
      if (!e.spec.startsWith(".")) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(e.file), e.spec));
      graph.set(e.file, [...(graph.get(e.file) ?? []), target]);
    }
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...path.slice(path.indexOf(file)), file].join(" → "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });

  it("worker.ts is the one module that names both the edge and the objects", () => {
    const entry = imports("worker.ts");
    expect(entry.some((s) => s.startsWith("./src/"))).toBe(true);
    expect(entry.some((s) => s.startsWith("./durable-objects/"))).toBe(true);
    const wrangler = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
    expect(wrangler).toMatch(/^main = "worker\.ts"$/m);
  });
});
