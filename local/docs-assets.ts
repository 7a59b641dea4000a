/**
 * Copies the API reference's renderer (swagger-ui-dist) from node_modules into
 * `public/docs/swagger-ui/`, the Workers Static Assets folder (`[assets]` in wrangler.toml) that the
 * Worker serves `/docs` from, so no page ever loads it from a CDN. Run after every `npm install` /
 * `npm ci` (the `postinstall` script, scripts/docs-assets.ts) and before every local bundle
 * (local/worker.ts); it copies only what changed. The folder is generated, not committed
 * (.gitignore). It lives under local/ because the local stack needs it and local/ never imports
 * from scripts/.
 */
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const SOURCE = join(ROOT, "node_modules", "swagger-ui-dist");
export const DOCS_ASSETS = join(ROOT, "public", "docs", "swagger-ui");
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"];

/** Copies the renderer's files whose size or modification time differ; returns how many. */
export function copyDocsAssets(): number {
  mkdirSync(DOCS_ASSETS, { recursive: true });
  let copied = 0;
  for (const name of FILES) {
    const from = join(SOURCE, name);
    const to = join(DOCS_ASSETS, name);
    const source = statSync(from);
    const target = statSync(to, { throwIfNoEntry: false });
    if (target && target.size === source.size && target.mtimeMs >= source.mtimeMs) continue;
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    copied++;
  }
  return copied;
}
