import type { Context } from "hono";
import type { HonoEnv } from "../hono-env.ts";
import { problemResponse } from "../problems.ts";

/** Types of the files the Worker serves from public/ (a local `disk` service sends none). */
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  png: "image/png",
};

/**
 * A file of public/ through Workers Static Assets (the ASSETS binding), with its type, a cache
 * lifetime and, for pages, their policy; a 404 problem for anything else (an unknown type, `..`).
 */
export async function serveAsset(
  c: Context<HonoEnv>,
  path: string,
  headers: { cacheControl: string; csp?: string },
): Promise<Response> {
  const type = CONTENT_TYPES[/\.([a-z0-9]+)$/.exec(path)?.[1] ?? ""];
  const found =
    type && !path.includes("..")
      ? await c.env.ASSETS.fetch(new URL(path, c.req.url), { method: "GET" })
      : undefined;
  if (!found?.ok) {
    await found?.body?.cancel();
    return problemResponse("not-found", { detail: `No file ${path}.` });
  }
  // A fresh Response: the middleware adds headers, and a fetched answer's headers are immutable.
  const res = new Response(found.body, { status: 200 });
  res.headers.set("Content-Type", type as string);
  res.headers.set("Cache-Control", headers.cacheControl);
  if (headers.csp) res.headers.set("Content-Security-Policy", headers.csp);
  const etag = found.headers.get("ETag");
  if (etag) res.headers.set("ETag", etag);
  return res;
}
