import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  admin,
  api,
  asUser,
  createEvent,
  eventInput,
  JWT_SECRET,
  problemOf,
  userToken,
} from "./helpers.ts";

const b64url = (value: unknown): string =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function hmac(data: string, secret: string, hash: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
  return btoa(String.fromCharCode(...sig))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** A token with any header, signed with HMAC `hash` (or unsigned). */
async function forged(header: object, payload: object, hash?: string): Promise<string> {
  const data = `${b64url(header)}.${b64url(payload)}`;
  return `${data}.${hash ? await hmac(data, JWT_SECRET, hash) : ""}`;
}

const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The event's whole observable state: must be identical before and after a refused request. */
async function observe(eventId: string) {
  const [event, stats] = await Promise.all([
    api(`/v1/events/${eventId}`).then((r) => r.json()),
    api(`/v1/events/${eventId}/stats`, { headers: admin() }).then((r) => r.json()),
  ]);
  return { event, stats };
}

interface Case {
  name: string;
  status: number;
  slug: string;
  request: (eventId: string) => Promise<Response>;
}

const createWith = (body: BodyInit, headers: Record<string, string> = {}) =>
  api("/v1/events", {
    method: "POST",
    headers: admin({ "Content-Type": "application/json", ...headers }),
    body,
  });

const claimWith = async (eventId: string, headers: Record<string, string>) =>
  api(`/v1/events/${eventId}/claims`, { method: "POST", headers });

const cases: Case[] = [
  // Bodies.
  {
    name: "malformed JSON",
    status: 400,
    slug: "invalid-request",
    request: () => createWith("{ not json"),
  },
  {
    name: "a body that is not UTF-8",
    status: 400,
    slug: "invalid-request",
    request: () => createWith(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  },
  {
    name: "wrong types",
    status: 400,
    slug: "invalid-request",
    request: (id) => createWith(JSON.stringify({ ...eventInput({ id }), totalStock: "500" })),
  },
  {
    name: "stock out of range",
    status: 400,
    slug: "invalid-request",
    request: () => createWith(JSON.stringify(eventInput({ totalStock: 10_000_001 }))),
  },
  {
    name: "an id with forbidden characters",
    status: 400,
    slug: "invalid-request",
    request: () => createWith(JSON.stringify(eventInput({ id: "no spaces!" }))),
  },
  {
    name: "waves that do not add up to totalStock",
    status: 400,
    slug: "invalid-request",
    request: () =>
      createWith(
        JSON.stringify(
          eventInput({ totalStock: 10, waves: [{ at: new Date().toISOString(), quantity: 9 }] }),
        ),
      ),
  },
  {
    name: "an unknown member",
    status: 400,
    slug: "invalid-request",
    request: () => createWith(JSON.stringify({ ...eventInput(), price: 5 })),
  },
  {
    name: "no JSON content type",
    status: 400,
    slug: "invalid-request",
    request: () => createWith(JSON.stringify(eventInput()), { "Content-Type": "text/plain" }),
  },
  {
    name: "a 17 KiB body",
    status: 413,
    slug: "payload-too-large",
    request: (id) =>
      createWith(JSON.stringify({ ...eventInput({ id }), name: "x".repeat(17 * 1024) })),
  },
  {
    name: "a bad event id in the path",
    status: 400,
    slug: "invalid-request",
    request: async () => claimWith("bad%24id", await asUser("mallory")),
  },
  // Tokens.
  { name: "no token", status: 401, slug: "unauthorized", request: (id) => claimWith(id, {}) },
  {
    name: "a Basic scheme",
    status: 401,
    slug: "unauthorized",
    request: async (id) => claimWith(id, { Authorization: `Basic ${btoa("user:pass")}` }),
  },
  {
    name: "a token after another scheme word",
    status: 401,
    slug: "unauthorized",
    request: async (id) => claimWith(id, { Authorization: `Token ${await userToken("mallory")}` }),
  },
  {
    name: "an expired token",
    status: 401,
    slug: "unauthorized",
    request: async (id) => claimWith(id, bearer(await userToken("mallory", { exp: now() - 10 }))),
  },
  {
    name: "a token not valid yet (nbf)",
    status: 401,
    slug: "unauthorized",
    request: async (id) => claimWith(id, bearer(await userToken("mallory", { nbf: now() + 600 }))),
  },
  {
    name: "a token without exp",
    status: 401,
    slug: "unauthorized",
    request: async (id) =>
      claimWith(
        id,
        bearer(await forged({ alg: "HS256", typ: "JWT" }, { sub: "mallory" }, "SHA-256")),
      ),
  },
  {
    name: "a token signed with another secret",
    status: 401,
    slug: "unauthorized",
    request: async (id) =>
      claimWith(
        id,
        bearer(await userToken("mallory", {}, "another-secret-0123456789abcdef012345")),
      ),
  },
  {
    name: "alg none",
    status: 401,
    slug: "unauthorized",
    request: async (id) =>
      claimWith(
        id,
        bearer(await forged({ alg: "none", typ: "JWT" }, { sub: "mallory", exp: now() + 600 })),
      ),
  },
  // Algorithm confusion: a header naming another algorithm, signed so that it would verify.
  ...[
    { alg: "HS512", hash: "SHA-512", why: "HMAC-SHA512 with the right secret" },
    { alg: "RS256", hash: "SHA-256", why: "an HMAC signature under an RSA name" },
  ].map(
    ({ alg, hash, why }): Case => ({
      name: `alg ${alg} in the header (${why})`,
      status: 401,
      slug: "unauthorized",
      request: async (id) =>
        claimWith(
          id,
          bearer(await forged({ alg, typ: "JWT" }, { sub: "mallory", exp: now() + 600 }, hash)),
        ),
    }),
  ),
  {
    name: "a sub that is not a string",
    status: 401,
    slug: "unauthorized",
    request: async (id) =>
      claimWith(
        id,
        bearer(await forged({ alg: "HS256" }, { sub: 42, exp: now() + 600 }, "SHA-256")),
      ),
  },
  {
    name: "a tampered payload",
    status: 401,
    slug: "unauthorized",
    request: async (id) => {
      const [h, , s] = (await userToken("mallory")).split(".");
      return claimWith(id, bearer(`${h}.${b64url({ sub: "admin", exp: now() + 600 })}.${s}`));
    },
  },
  // Operator endpoints.
  {
    name: "a user token creating an event",
    status: 403,
    slug: "forbidden",
    request: async () =>
      api("/v1/events", {
        method: "POST",
        headers: { ...(await asUser("mallory")), "Content-Type": "application/json" },
        body: JSON.stringify(eventInput()),
      }),
  },
  {
    name: "a user token pausing",
    status: 403,
    slug: "forbidden",
    request: async (id) =>
      api(`/v1/events/${id}/pause`, { method: "POST", headers: await asUser("mallory") }),
  },
  {
    name: "a user token reading stats",
    status: 403,
    slug: "forbidden",
    request: async (id) => api(`/v1/events/${id}/stats`, { headers: await asUser("mallory") }),
  },
  {
    name: "a wrong operator token",
    status: 401,
    slug: "unauthorized",
    request: (id) =>
      api(`/v1/events/${id}/pause`, { method: "POST", headers: bearer(`${ADMIN_TOKEN}x`) }),
  },
  // Routing.
  {
    name: "an unserved method",
    status: 405,
    slug: "method-not-allowed",
    request: (id) => api(`/v1/events/${id}`, { method: "DELETE", headers: admin() }),
  },
  { name: "an unknown route", status: 404, slug: "not-found", request: () => api("/v2/anything") },
];

describe("bad input gets a problem+json answer and changes nothing", () => {
  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.slug}`, async () => {
      const event = await createEvent({ totalStock: 5 });
      const before = await observe(event.id);

      const res = await c.request(event.id);

      expect(res.status).toBe(c.status);
      const problem = await problemOf(res);
      expect(problem.type).toBe(`/problems/${c.slug}`);
      expect(problem.title.length).toBeGreaterThan(0);
      if (c.slug === "invalid-request") expect(problem.errors?.length).toBeGreaterThan(0);
      if (c.status === 401) expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
      expect(res.headers.get("X-Request-Id")).toBeTruthy();
      expect(await observe(event.id)).toEqual(before);
    });
  }

  it("a 405 lists the methods the path serves in Allow", async () => {
    const res = await api("/v1/events/some-event/claims", { method: "GET" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("OPTIONS, POST");
  });

  it("a wrong-typed body names the failing member", async () => {
    const res = await createWith(JSON.stringify({ ...eventInput(), totalStock: "500" }));
    const problem = await problemOf(res);
    expect(problem.errors).toContainEqual(expect.objectContaining({ path: "json.totalStock" }));
  });

  it("GET /problems/<slug> explains a problem type", async () => {
    const res = await api("/problems/sold-out");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: "/problems/sold-out", status: 409 });
  });
});
