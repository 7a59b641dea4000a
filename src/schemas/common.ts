import { z } from "@hono/zod-openapi";
import { EVENT_ID_PATTERN, EVENT_ID_RULE } from "../../domain/identifiers.ts";
import { PROBLEMS, type ProblemSlug, problemType } from "../problems.ts";

export const EventIdParam = z.object({
  id: z
    .string()
    .regex(EVENT_ID_PATTERN, `event id ${EVENT_ID_RULE}`)
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

/**
 * What a route says about a problem answer: its slug(s), each segment of a ` · ` list starting
 * with one, optionally followed by a note for the reader of the route
 * (`"sold-out · paused (see Retry-After)"`, `"not-found: no such coupon"`).
 */
export type ProblemSpec = ProblemSlug | `${ProblemSlug} ${string}` | `${ProblemSlug}:${string}`;

/** The slugs a spec names; an unknown one is a programming error, reported at module load. */
export function problemSlugs(spec: ProblemSpec): ProblemSlug[] {
  return spec.split("·").map((segment) => {
    const slug = /^\s*([a-z-]+)/.exec(segment)?.[1];
    if (!slug || !(slug in PROBLEMS)) throw new Error(`no problem slug in "${segment}" (${spec})`);
    return slug as ProblemSlug;
  });
}

/** Members some problems add, in their examples. */
const EXTRA_MEMBERS: Partial<Record<ProblemSlug, Record<string, unknown>>> = {
  "invalid-request": {
    errors: [{ path: "body.totalStock", message: "Too small: expected number to be >=1" }],
  },
};

/**
 * A problem answer for the OpenAPI document. Its description and one example per slug come from
 * the problem table (src/problems.ts), the same text `GET /problems/{slug}` answers; the spec's
 * notes stay in the route's source.
 */
export function problem(spec: ProblemSpec) {
  const slugs = problemSlugs(spec);
  const line = (slug: ProblemSlug) => `\`${slug}\`: ${PROBLEMS[slug].description}`;
  const description =
    slugs.length === 1
      ? `${PROBLEMS[slugs[0] as ProblemSlug].title}. ${line(slugs[0] as ProblemSlug)}`
      : slugs.map((slug) => `- ${line(slug)}`).join("\n");
  const examples = Object.fromEntries(
    slugs.map((slug) => {
      const { status, title, description: detail } = PROBLEMS[slug];
      const value = { type: problemType(slug), title, status, detail, ...EXTRA_MEMBERS[slug] };
      return [slug, { summary: title, value }];
    }),
  );
  return {
    description,
    content: { "application/problem+json": { schema: ProblemSchema, examples } },
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
