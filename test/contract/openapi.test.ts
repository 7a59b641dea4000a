import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { openApiDocument } from "../../src/routes/docs.ts";

// Runs in Node: the schema validator compiles JSON Schemas at run time, which workerd forbids.
const doc = openApiDocument(buildApp());

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    // A spread copy: the validator writes into what it is given, and the copy takes a plain
    // object type (an interface like OpenAPIObject has no index signature for its parameter).
    const result = await validator.validate({ ...structuredClone(doc) });
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("lists every route of the contract", () => {
    const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      (["get", "post"] as const).filter((m) => item?.[m]).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        "POST /v1/events",
        "GET /v1/events/{id}",
        "POST /v1/events/{id}/pause",
        "POST /v1/events/{id}/resume",
        "GET /v1/events/{id}/stats",
        "POST /v1/events/{id}/claims",
        "GET /v1/events/{id}/claims/me",
        "GET /health",
        "GET /problems/{slug}",
      ]),
    );
  });

  it("describes errors as problem+json and names the security schemes", () => {
    const claim = doc.paths?.["/v1/events/{id}/claims"]?.post;
    expect(claim?.responses?.["409"]).toMatchObject({
      content: { "application/problem+json": expect.anything() },
    });
    expect(claim?.security).toEqual([{ userToken: [] }]);
    expect(Object.keys(doc.components?.securitySchemes ?? {})).toEqual(
      expect.arrayContaining(["userToken", "adminToken"]),
    );
  });
});
