import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

const JSON_TYPE = { "Content-Type": "application/json" } as const;

/**
 * A JSON answer whose body was serialized elsewhere (the coupon, once, in its object): the same
 * bytes and headers as `c.json(value, status)` without parsing and stringifying it again here.
 * Typed as `c.json`'s answer, so the route's OpenAPI schema still checks what it promises.
 */
export function prebuiltJson<T, S extends ContentfulStatusCode>(
  c: Context,
  json: string,
  status: S,
): TypedResponse<T, S, "json"> {
  return c.body(json, status, JSON_TYPE) as unknown as TypedResponse<T, S, "json">;
}
