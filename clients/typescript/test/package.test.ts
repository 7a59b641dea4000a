/**
 * Issue 22 item 5: the client installs as a package. `npm pack` (which builds dist/ through
 * prepack) makes the tarball; a throwaway project in a temporary folder gets it unpacked into its
 * node_modules (openapi-fetch linked from this repository's: no registry needed), imports it as
 * ESM on Node 24 and on the system's Node 20 when there is one, and type-checks the README's
 * example with TypeScript's bundler resolution.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLIENT = resolve(import.meta.dirname, "..");
const REPO = resolve(CLIENT, "..", "..");
const BIN = join(REPO, "node_modules", ".bin");
const dir = mkdtempSync(join(tmpdir(), "coupons-client-pack-"));
const app = join(dir, "app");
let packed: { filename: string; files: { path: string }[] };

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout: 90_000,
    // The repository's Node 24 and tsc first, as `npm pack` from a shell in the repo has them.
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ""}` },
    stdio: ["ignore", "pipe", "pipe"],
  });

/** The system's `node` when it is another binary than this one (Node 20 on this machine). */
function systemNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    if (existsSync(candidate) && realpathSync(candidate) !== realpathSync(process.execPath)) {
      return candidate;
    }
  }
  return undefined;
}

/** Uses the package as a consumer would, against a fetch stub: prints what it got. */
const MAIN_MJS = `
import { CouponApiError, CouponClient, isProblemSlug } from "@coupon-edge/client";
const coupon = { id: "cpn_1.e", eventId: "e", userId: "u", status: "issued",
  issuedAt: "2026-01-01T00:00:00.000Z", expiresAt: null, redeemedAt: null, orderId: null, hold: null };
let calls = 0;
const client = new CouponClient({
  baseUrl: "http://coupons.test",
  token: "jwt",
  fetch: async (request) => {
    calls++;
    if (request.url.endsWith("/claims/me")) {
      return new Response(JSON.stringify({ type: "/problems/not-found", title: "Not found", status: 404, detail: "none" }),
        { status: 404, headers: { "Content-Type": "application/problem+json" } });
    }
    return new Response(JSON.stringify(coupon), { status: 201, headers: { "Content-Type": "application/json" } });
  },
});
const claimed = await client.claim("e");
let slug;
try { await client.myCoupon("e"); } catch (err) { slug = CouponApiError.is(err) ? err.slug : String(err); }
console.log(JSON.stringify({ node: process.versions.node, id: claimed.coupon.id, created: claimed.created, slug, calls, ok: isProblemSlug("sold-out") }));
`;

beforeAll(() => {
  const out = run("npm", ["pack", "--json", "--pack-destination", dir], CLIENT);
  // npm prints the prepack build's output before the JSON array.
  packed = (JSON.parse(out.slice(out.indexOf("\n[") + 1)) as (typeof packed)[])[0] as typeof packed;
  const installed = join(app, "node_modules", "@coupon-edge");
  mkdirSync(installed, { recursive: true });
  run("tar", ["-xzf", join(dir, packed.filename), "-C", installed], dir);
  run("mv", [join(installed, "package"), join(installed, "client")], dir);
  symlinkSync(
    join(REPO, "node_modules", "openapi-fetch"),
    join(app, "node_modules", "openapi-fetch"),
  );
  writeFileSync(
    join(app, "package.json"),
    '{ "name": "app", "private": true, "type": "module" }\n',
  );
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the packed client", () => {
  it("ships built JavaScript, declarations, the README and the document, and no TypeScript source", () => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        "README.md",
        "dist/index.d.ts",
        "dist/index.js",
        "dist/schema.d.ts",
        "openapi.json",
        "package.json",
      ]),
    );
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  });

  const system = systemNode();
  const nodes: [string, string][] = [["Node 24 (the repository's)", process.execPath]];
  if (system) nodes.push([`the system's Node (${system})`, system]);
  it.each(nodes)("is imported as ESM and works on %s", (_name, node) => {
    writeFileSync(join(app, "main.mjs"), MAIN_MJS);
    const got = JSON.parse(run(node, ["main.mjs"], app)) as Record<string, unknown>;
    expect(got).toMatchObject({
      id: "cpn_1.e",
      created: true,
      slug: "not-found",
      calls: 2,
      ok: true,
    });
    expect(Number(String(got.node).split(".")[0])).toBeGreaterThanOrEqual(20);
  });

  it("type-checks the README's example with moduleResolution bundler", () => {
    const readme = readFileSync(join(CLIENT, "README.md"), "utf8");
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(example).toContain('from "@coupon-edge/client"');
    writeFileSync(
      join(app, "example.ts"),
      `${example}\ndeclare const session: { jwt: string };\n` +
        // The declarations are real types, not `any`: a misspelt field is an error.
        `import type { Coupon } from "@coupon-edge/client";\n` +
        `declare const c: Coupon;\n// @ts-expect-error no such field\nc.statuss;\n`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "esnext",
          moduleResolution: "bundler",
          strict: true,
          noEmit: true,
          lib: ["es2022", "dom"],
          types: [],
        },
        files: ["example.ts"],
      }),
    );
    expect(run(join(BIN, "tsc"), ["-p", "tsconfig.json"], app)).toBe("");
  }, 60_000);
});
