/**
 * Issue 25 item 5: `npm run smoke -- --url …` against `npm start`. Runs `node local/stack.ts` as
 * `npm start` does (state in a temporary folder, one front, known secrets from the environment),
 * then the smoke CLI as an operator would, and checks that it passed and that the dashboard's list
 * of events does not show its throwaway event.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serversUnder } from "./servers-under.ts";
import { freeRange, stopAll, untilServing, watched } from "./stack-run.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
const SECRETS = {
  JWT_SECRET: `smoke-jwt-${crypto.randomUUID()}-${crypto.randomUUID()}`,
  ADMIN_TOKEN: `smoke-admin-${crypto.randomUUID()}`,
};
let state: string;
let port: number;
const started: ChildProcess[] = [];

beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), "coupons-smoke-"));
  port = await freeRange(30_000 + Math.floor(Math.random() * 2_000) * 10);
  const child = spawn(process.execPath, ["local/stack.ts"], {
    cwd: REPO,
    env: {
      ...process.env,
      ...SECRETS,
      PORT: String(port),
      FRONTS: "1",
      COUPON_LOCAL_STATE: state,
      REQUEST_LOG: "off",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  await untilServing(watched(child));
}, 180_000);

afterAll(async () => {
  await stopAll(started);
  if (state) {
    for (const pid of serversUnder(state)) process.kill(pid, "SIGKILL");
    rmSync(state, { recursive: true, force: true });
  }
});

function smoke(
  url: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ["scripts/smoke.ts", "--url", url], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  const run = watched(child);
  return run.exited.then((code) => ({ code, out: run.output() }));
}

describe("npm run smoke", () => {
  it("passes against npm start, and no listing shows its throwaway event", async () => {
    const url = `http://127.0.0.1:${port}`;
    const { code, out } = await smoke(url, SECRETS);
    expect(out, out).toContain("all checks passed");
    expect(code).toBe(0);
    for (const name of ["GET /health", "GET /docs", "create a throwaway event", "claim it"]) {
      expect(out).toContain(`✔ ${name}`);
    }
    const eventId = /with event (smoke-[\w-]+)/.exec(out)?.[1];
    expect(eventId).toBeDefined();

    // The dashboard's list of events (and the metrics per event) leave it out.
    const summary = await fetch(`${url}/v1/admin/metrics/summary`, {
      headers: { Authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` },
    });
    expect(summary.status).toBe(200);
    const { events } = (await summary.json()) as { events: string[] };
    expect(events).not.toContain(eventId);
    const prometheus = await fetch(`${url}/v1/admin/metrics`, {
      headers: { Authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` },
    });
    expect(await prometheus.text()).not.toContain(eventId as string);
    // It is paused: nobody can claim anything more from it.
    const event = (await (await fetch(`${url}/v1/events/${eventId}`)).json()) as { state: string };
    expect(["paused", "sold-out"]).toContain(event.state);
  });

  it("a placed event reaches its one object across the fronts' RPC door (the split layout)", async () => {
    const url = `http://127.0.0.1:${port}`;
    const admin = { Authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` };
    const id = `placed-${crypto.randomUUID().slice(0, 8)}`;
    const body = {
      id,
      name: "Berlin drop",
      totalStock: 2,
      startsAt: new Date(Date.now() - 1_000).toISOString(),
      region: "weur",
      jurisdiction: "eu",
    };
    const post = (path: string, payload: unknown, headers: Record<string, string>) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
    const created = await post("/v1/events", body, admin);
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ region: "weur", jurisdiction: "eu" });
    expect((await post("/v1/events", { ...body, jurisdiction: "fedramp" }, admin)).status).toBe(
      409,
    );

    const now = Math.floor(Date.now() / 1000);
    const token = await sign(
      { sub: "placed-buyer", iat: now, exp: now + 600 },
      SECRETS.JWT_SECRET,
      "HS256",
    );
    const claimed = await post(`/v1/events/${id}/claims`, undefined, {
      Authorization: `Bearer ${token}`,
    });
    expect(claimed.status).toBe(201);
    const stats = await fetch(`${url}/v1/events/${id}/stats`, { headers: admin });
    expect(((await stats.json()) as { claims: { issued: number } }).claims.issued).toBe(1);
  });

  it("prints what failed: a wrong operator token fails the create and skips what needs it", async () => {
    const { code, out } = await smoke(`http://127.0.0.1:${port}`, {
      ...SECRETS,
      ADMIN_TOKEN: "not-the-operator-token",
    });
    expect(code).toBe(1);
    expect(out).toContain("✔ GET /health");
    expect(out).toMatch(/✖ create a throwaway event: 401 instead of 201: \/problems\/unauthorized/);
    expect(out).not.toContain("claim it");
  });

  it("refuses to run without the operator token, naming what is missing", async () => {
    const { code, out } = await smoke(`http://127.0.0.1:${port}`, {
      JWT_SECRET: SECRETS.JWT_SECRET,
    });
    expect(code).toBe(2);
    expect(out).toContain("ADMIN_TOKEN is not set");
  });
});
