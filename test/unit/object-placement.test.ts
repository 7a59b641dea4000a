/**
 * The seam that places an event's object (platform/object-placement.ts), against namespaces that
 * behave as Cloudflare's (jurisdictions exist) and as workerd's (they throw). The Worker tests
 * (test/worker/placement.test.ts) check the routing end to end in workerd; this is the part that
 * only Cloudflare runs.
 */
import { describe, expect, it } from "vitest";
import { placedId, placedStub } from "../../platform/object-placement.ts";

interface FakeId {
  name: string;
  jurisdiction: string | null;
}

/** Records what it was asked: ids are `{ name, jurisdiction }`, stubs the id and the options. */
function namespace(opts: { jurisdictions: boolean }) {
  const gets: { id: FakeId; options: unknown }[] = [];
  const make = (jurisdiction: string | null): unknown => ({
    idFromName: (name: string): FakeId => ({ name, jurisdiction }),
    get: (id: FakeId, options?: unknown) => {
      gets.push({ id, options });
      return { id };
    },
    jurisdiction: (j: string) => {
      if (!opts.jurisdictions)
        throw new Error("Jurisdiction restrictions are not implemented in workerd.");
      return make(j);
    },
  });
  // The fakes stand in for the runtime's class: only the methods the seam calls exist.
  const ns = make(null) as DurableObjectNamespace;
  return { ns, gets };
}

describe("an event's object by placement", () => {
  it("on Cloudflare: the id is taken in the jurisdiction's namespace, the hint goes to get()", () => {
    const { ns, gets } = namespace({ jurisdictions: true });
    placedStub(ns, "seoul-flash", { region: "apac", jurisdiction: null });
    placedStub(ns, "berlin-drop", { region: "weur", jurisdiction: "eu" });
    placedStub(ns, "plain", { region: null, jurisdiction: null });
    expect(gets).toEqual([
      { id: { name: "seoul-flash", jurisdiction: null }, options: { locationHint: "apac" } },
      { id: { name: "berlin-drop", jurisdiction: "eu" }, options: { locationHint: "weur" } },
      { id: { name: "plain", jurisdiction: null }, options: undefined },
    ]);
  });

  it("in workerd (no jurisdictions): a stand-in name in the plain namespace, never the plain id", () => {
    const { ns } = namespace({ jurisdictions: false });
    expect(placedId(ns, "berlin-drop", "eu")).toEqual({
      name: "eu:berlin-drop",
      jurisdiction: null,
    });
    expect(placedId(ns, "berlin-drop", "fedramp")).toEqual({
      name: "fedramp:berlin-drop",
      jurisdiction: null,
    });
    expect(placedId(ns, "berlin-drop", null)).toEqual({ name: "berlin-drop", jurisdiction: null });
  });

  it("any other error from the runtime is not mistaken for workerd's", () => {
    const ns = {
      idFromName: () => ({}),
      jurisdiction: () => {
        throw new Error("jurisdiction not allowed for this account");
      },
    } as unknown as DurableObjectNamespace;
    expect(() => placedId(ns, "x", "fedramp")).toThrow(/not allowed/);
  });
});
