import { describe, expect, it } from "vitest";
import { SINK_NAMES } from "../../domain/sinks.ts";
import { buildApp } from "../../src/app.ts";

const doc = buildApp().getOpenAPI31Document({
  openapi: "3.1.0",
  info: { title: "coupon-edge", version: "test" },
});

type Schema = { properties?: Record<string, Schema>; enum?: string[]; $ref?: string };
const schema = (name: string): Schema =>
  (doc.components?.schemas?.[name] ?? {}) as unknown as Schema;
const keys = (s: Schema | undefined): string[] => Object.keys(s?.properties ?? {});

describe("the sink registry drives the API's shapes", () => {
  it("names exactly the contract's sinks, in order", () => {
    expect(SINK_NAMES).toEqual(["mysql", "kafka"]);
  });

  it("stats list one entry per sink, health every sink and Redis", () => {
    expect(keys(schema("EventStats").properties?.sinks)).toEqual(SINK_NAMES);
    const health = schema("Health").properties;
    expect(keys(health?.sinks)).toEqual([...SINK_NAMES, "redis"]);
    expect(keys(health?.errors)).toEqual([...SINK_NAMES, "redis"]);
  });

  it("a dead letter's sink is one of the registry's", () => {
    expect(schema("DeadLetter").properties?.sink?.enum).toEqual(SINK_NAMES);
  });
});
