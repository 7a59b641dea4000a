import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { PROBLEMS, type ProblemSlug } from "../../src/problems.ts";
import { openApiDocument } from "../../src/routes/docs.ts";
import { CouponSchema } from "../../src/schemas/coupon.ts";
import { CreateEventBody, EventSchema, StatsSchema } from "../../src/schemas/event.ts";
import {
  COUPON_EXAMPLE,
  CREATE_EVENT_EXAMPLE,
  EVENT_EXAMPLE,
  STATS_EXAMPLE,
} from "../../src/schemas/examples.ts";

interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  parameters?: { name: string; in: string; schema?: unknown; example?: unknown }[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { description: string; content?: Record<string, Media> }>;
}

// Runs in Node, on the document `GET /openapi.json` serves.
const doc = openApiDocument(buildApp()) as unknown as {
  paths: Record<string, Record<string, Operation>>;
};
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
);
const hasExample = (media: Media) => media.example !== undefined || media.examples !== undefined;

describe("the OpenAPI document's examples", () => {
  it("every parameter has a schema and an example", () => {
    const missing = operations.flatMap(({ route, op }) =>
      (op.parameters ?? [])
        .filter((p) => !p.schema || (p.example === undefined && !schemaExample(p.schema)))
        .map((p) => `${route} ${p.in}.${p.name}`),
    );
    expect(missing).toEqual([]);
  });

  it("every request body and every answer with a body has a schema and an example", () => {
    const missing: string[] = [];
    for (const { route, op } of operations) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        if (!media.schema || !hasExample(media)) missing.push(`${route} body ${type}`);
      }
      for (const [status, answer] of Object.entries(op.responses ?? {})) {
        if (!answer.content) missing.push(`${route} ${status}: no content`);
        for (const [type, media] of Object.entries(answer.content ?? {})) {
          if (!media.schema || !hasExample(media)) missing.push(`${route} ${status} ${type}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("problem answers are described by the problem table, one example per problem", () => {
    for (const { route, op } of operations) {
      for (const [status, answer] of Object.entries(op.responses ?? {})) {
        const media = answer.content?.["application/problem+json"];
        if (!media) continue;
        const examples = Object.entries(media.examples ?? {});
        expect(examples.length, `${route} ${status}`).toBeGreaterThan(0);
        for (const [slug, { value }] of examples) {
          const entry = PROBLEMS[slug as ProblemSlug];
          expect(entry, `${route} ${status} names ${slug}`).toBeDefined();
          expect(entry.status, `${route} ${status} ${slug}`).toBe(Number(status));
          expect(value).toMatchObject({ type: `/problems/${slug}`, status: entry.status });
          expect(answer.description).toContain(entry.description);
        }
      }
    }
  });

  it("the examples fit their schemas", () => {
    expect(() => CreateEventBody.parse(CREATE_EVENT_EXAMPLE)).not.toThrow();
    expect(() => EventSchema.parse(EVENT_EXAMPLE)).not.toThrow();
    expect(() => CouponSchema.parse(COUPON_EXAMPLE)).not.toThrow();
    expect(() => StatsSchema.parse(STATS_EXAMPLE)).not.toThrow();
  });
});

function schemaExample(schema: unknown): boolean {
  const s = schema as { example?: unknown; examples?: unknown[] };
  return s.example !== undefined || (s.examples?.length ?? 0) > 0;
}
