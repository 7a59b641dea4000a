import { createMiddleware } from "hono/factory";
import type { HonoEnv } from "../hono-env.ts";
import { ProblemError } from "../problems.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Rejects a body that is not valid UTF-8 JSON before any validator sees it: `Request.json()`
 * would silently replace invalid bytes. The parsed bytes stay cached for the validator.
 */
export const jsonBody = createMiddleware<HonoEnv>(async (c, next) => {
  const raw = await c.req.arrayBuffer();
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    throw invalid("The body is not valid UTF-8.");
  }
  try {
    JSON.parse(text);
  } catch {
    throw invalid("The body is not valid JSON.");
  }
  await next();
});

function invalid(detail: string): ProblemError {
  return new ProblemError("invalid-request", {
    detail,
    extra: { errors: [{ path: "body", message: detail }] },
  });
}
