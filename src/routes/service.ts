import { createRoute, z } from "@hono/zod-openapi";
import { perSink, SINK_STATES } from "../../domain/sinks.ts";
import { health as probeHealth } from "../lib/health.ts";
import { newRouter } from "../lib/router.ts";
import { PROBLEMS, type ProblemSlug, problemPage } from "../problems.ts";
import { json, problem } from "../schemas/common.ts";
import { ErrorClassSchema } from "../schemas/outbox.ts";

const SinkHealth = z.enum(SINK_STATES);

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    sinks: z.object({ ...perSink(() => SinkHealth), redis: SinkHealth }),
    errors: z
      .object({ ...perSink(() => ErrorClassSchema.optional()), redis: ErrorClassSchema.optional() })
      .openapi({ description: "Why a dependency's probe failed, by class, for those that did." }),
  })
  .openapi("Health");

export type HealthAnswer = z.infer<typeof HealthSchema>;

const health = createRoute({
  method: "get",
  path: "/health",
  summary: "Service health",
  description:
    "Public: states and error classes only. Figures (outbox backlog, deliveries, dead letters, events) are on the operator's `/v1/admin/metrics/summary`.",
  tags: ["service"],
  responses: { 200: json(HealthSchema, "Health of the service and its sinks") },
});

const slugs = Object.keys(PROBLEMS) as [ProblemSlug, ...ProblemSlug[]];

const explainProblem = createRoute({
  method: "get",
  path: "/problems/{slug}",
  summary: "Explain a problem type",
  tags: ["service"],
  request: { params: z.object({ slug: z.enum(slugs) }) },
  responses: {
    200: json(
      z.object({
        type: z.string(),
        title: z.string(),
        status: z.number().int(),
        description: z.string(),
      }),
      "What the problem means",
    ),
    400: problem("invalid-request"),
  },
});

export const service = newRouter()
  .openapi(health, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await probeHealth(c.var.services), 200);
  })
  .openapi(explainProblem, (c) => {
    return c.json(problemPage(c.req.valid("param").slug), 200);
  });
