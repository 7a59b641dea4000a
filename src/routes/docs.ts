import type { OpenAPIHono } from "@hono/zod-openapi";
import type { HonoEnv } from "../hono-env.ts";
import { serveAsset } from "../lib/assets.ts";
import { ANSWER_EXAMPLES, COMPONENT_EXAMPLES, PARAMETER_EXAMPLES } from "../schemas/examples.ts";

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

/**
 * The reference page's policy: scripts and styles of this origin only (Swagger UI's bundle and
 * stylesheet, and public/docs/reference.js), images of this origin or inline SVG in its
 * stylesheet, requests ("Try it out") to this origin only. No inline script, nothing framed.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${OPENAPI_INFO.info.title} API reference</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/docs/swagger-ui/swagger-ui.css">
  </head>
  <body>
    <div id="reference"></div>
    <noscript>The reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</noscript>
    <script src="/docs/swagger-ui/swagger-ui-bundle.js"></script>
    <script src="/docs/reference.js"></script>
  </body>
</html>
`;

/**
 * Serves the OpenAPI document, and the API reference page (Swagger UI) with its files from
 * Workers Static Assets (the ASSETS binding; locally a `disk` service, see local/worker.ts): no CDN.
 */
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
  let document: Document | undefined;
  app.get("/openapi.json", (c) => {
    document ??= openApiDocument(app);
    return c.json(document);
  });
  app.get("/docs", (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    c.header("Cache-Control", "public, max-age=300");
    return c.html(PAGE);
  });
  app.get("/docs/*", (c) => serveAsset(c, c.req.path, { cacheControl: "public, max-age=3600" }));
}

// ─── examples ──────────────────────────────────────────────────────────────────────────────────

interface Schema {
  $ref?: string;
  example?: unknown;
  examples?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Media {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, unknown>;
}
interface Operation {
  parameters?: { name: string; schema?: Schema; example?: unknown; examples?: unknown }[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { content?: Record<string, Media> }>;
}
interface Paths {
  paths?: Record<string, Record<string, Operation | undefined>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

/**
 * The OpenAPI document with an example on every parameter, body and answer that has none of its
 * own: the component's (src/schemas/examples.ts), the answer's, or one composed of its
 * properties' examples.
 */
export function openApiDocument(app: OpenAPIHono<HonoEnv>): Document {
  const doc = app.getOpenAPI31Document(OPENAPI_INFO);
  const { paths = {}, components = {} } = doc as unknown as Paths;
  const exampleOf = (schema: Schema | undefined, depth = 0): unknown => {
    if (!schema || depth > 8) return undefined;
    if (schema.$ref) {
      const name = schema.$ref.replace("#/components/schemas/", "");
      return COMPONENT_EXAMPLES[name] ?? exampleOf(components.schemas?.[name], depth + 1);
    }
    if (schema.example !== undefined) return schema.example;
    if (schema.examples?.length) return schema.examples[0];
    if (!schema.properties) return undefined;
    const out: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(schema.properties)) {
      const value = exampleOf(property, depth + 1);
      if (value !== undefined) out[name] = value;
      else if (schema.required?.includes(name)) return undefined;
    }
    return out;
  };
  const exemplify = (content: Record<string, Media> | undefined, key: string) => {
    for (const media of Object.values(content ?? {})) {
      if (media.example !== undefined || media.examples !== undefined) continue;
      const example = ANSWER_EXAMPLES[key] ?? exampleOf(media.schema);
      if (example !== undefined) media.example = example;
    }
  };
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const route = `${method.toUpperCase()} ${path}`;
      for (const param of op.parameters ?? []) {
        if (param.example !== undefined || param.examples !== undefined) continue;
        if (exampleOf(param.schema) === undefined) param.example = PARAMETER_EXAMPLES[param.name];
      }
      exemplify(op.requestBody?.content, `${route} body`);
      for (const [status, answer] of Object.entries(op.responses ?? {})) {
        exemplify(answer.content, `${route} ${status}`);
      }
    }
  }
  return doc;
}
