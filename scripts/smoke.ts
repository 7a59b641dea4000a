/**
 * `npm run smoke -- --url https://coupons.example.com`: after a deploy, checks the live service end
 * to end with a throwaway event, and prints what failed (exit 1) or one line per check (exit 0).
 *
 * It creates its own event (`smoke-<time>-<random>`, one coupon, ending two minutes after it
 * starts), claims it as a throwaway user, reads the coupon and the event back, reads its stats,
 * `/health`, `/docs` and `/openapi.json`, and finally pauses the event. It never reads or changes
 * any other event. The service has no delete: the event stays, paused and soon ended, and its one
 * coupon reaches MySQL and Kafka like any other (keyed by the `smoke-` id, so downstream consumers
 * can skip it). Ids starting with `smoke-` are reserved: the metrics and the dashboard's list of
 * events leave them out.
 *
 * Secrets come from the environment, never the command line (shell history):
 *   ADMIN_TOKEN            the operator token (required)
 *   SMOKE_USER_TOKEN       a user's bearer token, or else
 *   JWT_SECRET             to mint one (with JWT_ISSUER / JWT_AUDIENCE when the service sets them)
 *   SMOKE_TURNSTILE_TOKEN  when claims need Turnstile (staging with Cloudflare's test keys:
 *                          XXXX.DUMMY.TOKEN.XXXX)
 */
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { SMOKE_EVENT_PREFIX } from "../domain/identifiers.ts";

export interface SmokeOptions {
  url: string;
  adminToken: string;
  userToken: string;
  turnstileToken?: string;
  /** Per request. */
  timeoutMs?: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SmokeResult {
  eventId: string;
  checks: Check[];
  ok: boolean;
}

class Failed extends Error {}

/** Runs every check it can; a failed create or claim skips the checks that need it. */
export async function runSmoke(opts: SmokeOptions): Promise<SmokeResult> {
  const base = new URL(opts.url);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const checks: Check[] = [];
  const now = Date.now();
  const stamp = new Date(now).toISOString().replace(/\D/g, "").slice(0, 14);
  const eventId = `${SMOKE_EVENT_PREFIX}${stamp}-${crypto.randomUUID().slice(0, 8)}`;
  const admin = { Authorization: `Bearer ${opts.adminToken}` };
  const user = {
    Authorization: `Bearer ${opts.userToken}`,
    ...(opts.turnstileToken ? { "CF-Turnstile-Response": opts.turnstileToken } : {}),
  };

  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(new URL(path, base), { ...init, signal: AbortSignal.timeout(timeoutMs) });
  }

  /** One check: `fn` throws `Failed` (or anything) to fail it with its message. */
  async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
    try {
      checks.push({ name, ok: true, detail: await fn() });
      return true;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      checks.push({ name, ok: false, detail });
      return false;
    }
  }

  async function expectStatus(res: Response, ...wanted: number[]): Promise<unknown> {
    const text = await res.text();
    if (!wanted.includes(res.status)) {
      throw new Failed(`${res.status} instead of ${wanted.join(" or ")}: ${describe(text)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  await check("GET /health", async () => {
    const body = (await expectStatus(await call("/health"), 200)) as {
      status?: string;
      sinks?: Record<string, string>;
    };
    const sinks = Object.entries(body.sinks ?? {})
      .map(([name, state]) => `${name} ${state}`)
      .join(", ");
    return `${body.status} (${sinks})`;
  });
  await check("GET /docs", async () => {
    const res = await call("/docs");
    await expectStatus(res, 200);
    const type = res.headers.get("Content-Type") ?? "";
    if (!type.startsWith("text/html")) throw new Failed(`Content-Type ${type}, not HTML`);
    return "the API reference page";
  });
  await check("GET /openapi.json", async () => {
    const doc = (await expectStatus(await call("/openapi.json"), 200)) as { openapi?: string };
    if (!doc.openapi?.startsWith("3.1")) throw new Failed(`openapi ${doc.openapi}, not 3.1`);
    return `OpenAPI ${doc.openapi}`;
  });

  const created = await check("create a throwaway event", async () => {
    const res = await call("/v1/events", {
      method: "POST",
      headers: { ...admin, "Content-Type": "application/json" },
      body: JSON.stringify({
        id: eventId,
        name: "Smoke check (throwaway)",
        totalStock: 1,
        startsAt: new Date(now - 1_000).toISOString(),
        endsAt: new Date(now + 120_000).toISOString(),
        couponExpiresAt: new Date(now + 600_000).toISOString(),
      }),
    });
    // 201 only: a 200 would mean the id existed, and this check touches no event it did not make.
    await expectStatus(res, 201);
    return eventId;
  });

  let couponId = "";
  const claimed =
    created &&
    (await check("claim it", async () => {
      const path = `/v1/events/${eventId}/claims`;
      const first = (await expectStatus(
        await call(path, { method: "POST", headers: user }),
        201,
      )) as {
        id: string;
      };
      couponId = first.id;
      const again = (await expectStatus(
        await call(path, { method: "POST", headers: user }),
        200,
      )) as {
        id: string;
      };
      if (again.id !== first.id) throw new Failed("a retried claim answered another coupon");
      return `coupon ${couponId} (a retry answered the same one)`;
    }));

  if (claimed) {
    await check("read the coupon back", async () => {
      const mine = (await expectStatus(
        await call(`/v1/events/${eventId}/claims/me`, { headers: user }),
        200,
      )) as { id: string };
      const coupon = (await expectStatus(
        await call(`/v1/coupons/${encodeURIComponent(couponId)}`, { headers: user }),
        200,
      )) as { id: string; status: string };
      if (mine.id !== couponId || coupon.id !== couponId)
        throw new Failed("another coupon answered");
      return `status ${coupon.status}`;
    });
  }
  if (created) {
    await check("read the event back", async () => {
      // GET may be answered from a snapshot up to 1 s old (the contract): ask again for a moment.
      let issued = -1;
      for (let attempt = 0; attempt < 10; attempt++) {
        const event = (await expectStatus(await call(`/v1/events/${eventId}`), 200)) as {
          issued: number;
        };
        issued = event.issued;
        if (!claimed || issued === 1) return `issued ${issued} of 1`;
        await new Promise((done) => setTimeout(done, 300));
      }
      throw new Failed(`issued ${issued}, expected 1 after the claim`);
    });
    await check("read its stats", async () => {
      const stats = (await expectStatus(
        await call(`/v1/events/${eventId}/stats`, { headers: admin }),
        200,
      )) as { claims: { issued: number }; sinks: Record<string, { state: string }> };
      const sinks = Object.entries(stats.sinks)
        .map(([name, sink]) => `${name} ${sink.state}`)
        .join(", ");
      return `issued ${stats.claims.issued}; sinks ${sinks}`;
    });
    await check("pause it (it ends by itself two minutes after it started)", async () => {
      await expectStatus(
        await call(`/v1/events/${eventId}/pause`, { method: "POST", headers: admin }),
        200,
      );
      return "paused";
    });
  }
  return { eventId, checks, ok: checks.every((c) => c.ok) };
}

/** A problem's slug and detail, or the start of any other body. */
function describe(text: string): string {
  try {
    const problem = JSON.parse(text) as { type?: string; detail?: string };
    if (problem.type) return `${problem.type}${problem.detail ? `: ${problem.detail}` : ""}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

const USAGE =
  "usage: npm run smoke -- --url https://<your service>  (ADMIN_TOKEN and JWT_SECRET or SMOKE_USER_TOKEN in the environment)";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { url: { type: "string" }, help: { type: "boolean" } } });
  if (values.help || !values.url) {
    console.error(USAGE);
    return 2;
  }
  const env = process.env;
  const adminToken = env.ADMIN_TOKEN;
  if (!adminToken) {
    console.error(`ADMIN_TOKEN is not set.\n${USAGE}`);
    return 2;
  }
  let userToken = env.SMOKE_USER_TOKEN;
  if (!userToken) {
    if (!env.JWT_SECRET) {
      console.error(`Neither SMOKE_USER_TOKEN nor JWT_SECRET is set.\n${USAGE}`);
      return 2;
    }
    const iat = Math.floor(Date.now() / 1000);
    userToken = await sign(
      {
        sub: `smoke-user-${crypto.randomUUID()}`,
        iat,
        exp: iat + 600,
        ...(env.JWT_ISSUER ? { iss: env.JWT_ISSUER } : {}),
        ...(env.JWT_AUDIENCE ? { aud: env.JWT_AUDIENCE } : {}),
      },
      env.JWT_SECRET,
      "HS256",
    );
  }
  const result = await runSmoke({
    url: values.url,
    adminToken,
    userToken,
    ...(env.SMOKE_TURNSTILE_TOKEN ? { turnstileToken: env.SMOKE_TURNSTILE_TOKEN } : {}),
  });
  console.log(`smoke check of ${values.url} with event ${result.eventId}`);
  for (const c of result.checks) console.log(`${c.ok ? "✔" : "✖"} ${c.name}: ${c.detail}`);
  const failed = result.checks.filter((c) => !c.ok);
  console.log(failed.length === 0 ? "all checks passed" : `${failed.length} check(s) failed`);
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
