import { z } from "@hono/zod-openapi";

export const EVENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const EventIdParam = z.object({
  id: z
    .string()
    .regex(EVENT_ID_PATTERN, "event id must match [A-Za-z0-9_-]{1,64}")
    .openapi({ param: { name: "id", in: "path" }, example: "back-to-school-2026" }),
});

/** ISO 8601 with an offset, as clients send it; answers are always UTC with milliseconds. */
export const Timestamp = z.iso
  .datetime({ offset: true })
  .openapi({ example: "2026-09-12T14:00:00.000Z" });

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "/problems/sold-out" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

/** A problem answer for the OpenAPI document. */
export function problem(description: string) {
  return {
    description,
    content: { "application/problem+json": { schema: ProblemSchema } },
  } as const;
}

/** The problems every operator route on an event can answer. */
export const operatorEventProblems = {
  400: problem("invalid-request"),
  401: problem("unauthorized"),
  403: problem("forbidden"),
  404: problem("not-found"),
} as const;

/** The problems every user route on an event can answer. */
export const userEventProblems = {
  400: problem("invalid-request"),
  401: problem("unauthorized"),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) =>
  ({ description, content: { "application/json": { schema } } }) as const;
