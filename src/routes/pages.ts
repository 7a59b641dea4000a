import type { OpenAPIHono } from "@hono/zod-openapi";
import type { HonoEnv } from "../hono-env.ts";
import { serveAsset } from "../lib/assets.ts";

/**
 * The pages for people, served by the Worker from Workers Static Assets (public/, the ASSETS
 * binding, as the API reference is): the claim page for web clients at `/claim`, the operator
 * dashboard at `/dashboard`. Scripts and
 * styles are the page's own files (`'self'`, nothing inline), and it talks to this API only; the
 * one exception is the Turnstile widget on the claim page, when claims need it.
 */
const PAGE_CSP = pageCsp();

/** Where the Turnstile widget's script and its iframe come from (Cloudflare forbids proxying it). */
const TURNSTILE_ORIGIN = "https://challenges.cloudflare.com";
/** The claim page's policy when claims need Turnstile: that origin may run a script and a frame. */
const TURNSTILE_PAGE_CSP = pageCsp(TURNSTILE_ORIGIN);

/** The pages' policy; `widget` is an origin that may also run a script and a frame in it. */
function pageCsp(widget?: string): string {
  const script = widget ? `'self' ${widget}` : "'self'";
  const frame = widget ? ` frame-src ${widget};` : "";
  return `default-src 'none'; script-src ${script}; style-src 'self'; img-src 'self' data:; connect-src 'self';${frame} base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

const PAGES = ["claim", "dashboard"] as const;
/** A file name of dot-separated words ending in .js or .css: no path, no `..`. */
const FILE = "[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.(?:js|css)";

export function mountPages(app: OpenAPIHono<HonoEnv>): void {
  // What the claim page asks before it draws the claim button: the widget's public site key,
  // or null when claims need no Turnstile. Never cached: it follows the deployed settings.
  app.get("/claim/settings.json", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ turnstileSiteKey: c.var.services.config.turnstile?.siteKey ?? null });
  });
  for (const page of PAGES) {
    app.get(`/${page}`, (c) => {
      const widget = page === "claim" && c.var.services.config.turnstile !== null;
      return serveAsset(c, `/${page}/index.html`, {
        cacheControl: "no-cache",
        csp: widget ? TURNSTILE_PAGE_CSP : PAGE_CSP,
      });
    });
    app.get(`/${page}/:file{${FILE}}`, (c) =>
      serveAsset(c, `/${page}/${c.req.param("file")}`, {
        cacheControl: "public, max-age=300",
        csp: PAGE_CSP,
      }),
    );
    // Third-party files (Chart.js), kept as their packages ship them.
    app.get(`/${page}/vendor/:file{${FILE}}`, (c) =>
      serveAsset(c, `/${page}/vendor/${c.req.param("file")}`, {
        cacheControl: "public, max-age=3600",
        csp: PAGE_CSP,
      }),
    );
  }
}
