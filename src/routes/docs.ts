import type { OpenAPIHono } from "@hono/zod-openapi";
import { html, raw } from "hono/html";
import type { HonoEnv } from "../hono-env.ts";

type Document = ReturnType<OpenAPIHono<HonoEnv>["getOpenAPI31Document"]>;

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Coupon service",
    version: "1.0.0",
    description:
      "First-come-first-served coupon events at the edge. Errors are RFC 9457 problem+json; `GET /problems/{slug}` explains each type.",
  },
} as const;

/** Serves the OpenAPI document and a self-contained reference page (no CDN: works offline). */
export function mountDocs(app: OpenAPIHono<HonoEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "userToken", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A user's JWT (HS256 locally); `sub` is the user id, `exp` is required.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "The operator token (ADMIN_TOKEN).",
  });
  app.doc31("/openapi.json", OPENAPI_INFO);
  let page: string | undefined;
  app.get("/docs", (c) => {
    page ??= renderReference(app.getOpenAPI31Document(OPENAPI_INFO));
    return c.html(page);
  });
}

const METHOD_ORDER = ["get", "post", "put", "patch", "delete"] as const;

function renderReference(doc: Document): string {
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHOD_ORDER.flatMap((method) => {
      const op = item?.[method];
      return op ? [{ path, method, op }] : [];
    }),
  );
  const rows = operations.map(({ path, method, op }) => {
    const auth = op.security?.length ? Object.keys(op.security[0] ?? {}).join(", ") : "anyone";
    const responses = Object.entries(op.responses ?? {})
      .map(
        ([status, r]) =>
          html`<li><code>${status}</code> ${"description" in r ? r.description : ""}</li>`,
      )
      .join("");
    return html`<section>
      <h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${path}</code></h2>
      <p><strong>${op.summary ?? ""}</strong> <em>(${auth})</em></p>
      <p>${op.description ?? ""}</p>
      <ul>${raw(responses)}</ul>
    </section>`;
  });
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${doc.info.title} API reference</title>
        <style>
          body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
          section { border-top: 1px solid #ddd; padding: .5rem 0; }
          .m { display: inline-block; min-width: 4rem; font-size: .8em; padding: .1rem .4rem; border-radius: 4px; color: #fff; background: #555; }
          .get { background: #2b7; } .post { background: #27c; }
        </style>
      </head>
      <body>
        <h1>${doc.info.title} <small>${doc.info.version}</small></h1>
        <p>${doc.info.description ?? ""}</p>
        <p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
        ${rows}
      </body>
    </html>`.toString();
}
