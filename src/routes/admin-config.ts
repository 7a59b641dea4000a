import { createRoute, z } from "@hono/zod-openapi";
import { deployChecks } from "../../platform/deploy-checks.ts";
import { newRouter } from "../lib/router.ts";
import { requireOperator } from "../middleware/auth.ts";
import { json, problem } from "../schemas/common.ts";

const CheckSchema = z.object({
  name: z.string(),
  state: z.enum(["ok", "missing", "example"]).openapi({
    description: "`example`: a value published in the tests or Cloudflare's docs (never safe).",
  }),
  settings: z.array(z.string()),
  required: z.boolean(),
  effect: z.string().openapi({ description: "What the service does without it." }),
});

const ConfigReportSchema = z
  .object({
    environment: z.enum(["staging", "production"]).nullable().openapi({
      description: "wrangler.toml's DEPLOY_ENV; null when not deployed (local).",
    }),
    checks: z.array(CheckSchema),
    warnings: z.array(CheckSchema).openapi({
      description: "What a deployment needs: required checks not ok, and any example value.",
    }),
    settings: z.record(z.string(), z.enum(["set", "default"])),
  })
  .openapi("ConfigReport", {
    example: {
      environment: "production",
      checks: [
        {
          name: "redis",
          state: "missing",
          settings: ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"],
          required: true,
          effect:
            "no rate limits (every budget is open) and no shared snapshots: every read and refusal wakes the event's object",
        },
      ],
      warnings: [],
      settings: { UPSTASH_REDIS_REST_URL: "default", JWT_SECRET: "set" },
    },
  });

const getConfig = createRoute({
  method: "get",
  path: "/v1/admin/config",
  summary: "What this deployment is missing",
  description:
    "Names and states only, never a value: each production setting's check (Redis, the Analytics Engine token, the alert webhook, the sinks, example secrets) and whether every setting is set. A deployed Worker logs the same warnings once per isolate (docs/deploy.md).",
  tags: ["operations"],
  security: [{ adminToken: [] }],
  middleware: [requireOperator] as const,
  responses: {
    200: json(ConfigReportSchema, "The checks"),
    401: problem("unauthorized"),
    403: problem("forbidden"),
  },
});

export const adminConfig = newRouter().openapi(getConfig, (c) =>
  c.json(deployChecks(c.env, c.var.services.config), 200),
);
