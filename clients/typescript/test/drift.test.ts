/**
 * The committed document and types must be what scripts/generate.ts writes from the app as it is
 * now: a route, schema or slug changed in src/ without regenerating the client fails here.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOCUMENT_FILE, render, SCHEMA_FILE } from "../scripts/generate.ts";

const HINT = "regenerate: node clients/typescript/scripts/generate.ts";

describe("the client's generated types", () => {
  it("match the service's current OpenAPI document", async () => {
    const { document, schema } = await render();
    expect(readFileSync(DOCUMENT_FILE, "utf8"), `openapi.json drifted; ${HINT}`).toBe(document);
    expect(readFileSync(SCHEMA_FILE, "utf8"), `src/schema.d.ts drifted; ${HINT}`).toBe(schema);
  });
});
