import { OpenAPIHono } from "@hono/zod-openapi";
import type { HonoEnv } from "../hono-env.ts";
import { ProblemError } from "../problems.ts";

interface Issue {
  path: PropertyKey[];
  message: string;
}

/** A router whose validation failures become `invalid-request` problems listing each issue. */
export function newRouter(): OpenAPIHono<HonoEnv> {
  return new OpenAPIHono<HonoEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const issues: Issue[] = result.error.issues;
      const errors = issues.map((issue) => ({
        path: [result.target, ...issue.path.map(String)].join("."),
        message: issue.message,
      }));
      throw new ProblemError("invalid-request", {
        detail: `The request ${result.target} is invalid.`,
        extra: { errors },
      });
    },
  });
}
