/**
 * The local cloud's processes: start, stop, crash-and-restart and an orphaning parent crash leave
 * no stray mariadbd or redis-server behind (asserted by pid and by scanning /proc), and the
 * migrations create both tables with their keys; the gateway's control port injects faults,
 * stops/starts one API and counts each API's requests, for holders of the run's token only and
 * never for a browser. Runs in Node:
 * `npx vitest run --project node test/stack`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { controlFetch } from "../../local/gateway/control-client.ts";
import type { Faults } from "../../local/gateway/faults.ts";
import { type GatewayStats, startGateway } from "../../local/gateway/server.ts";
import { isAlive, isPortFree, waitFor } from "../../local/servers/process.ts";
import { redisPing } from "../../local/servers/redis.ts";
import type { LocalCloud } from "../../local/stack-types.ts";
import { serversUnder } from "./servers-under.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
let root: string;

function pids(cloud: RunningLocalCloud): number[] {
  return [cloud.processes.mariadbd.pid, cloud.processes.redis.pid];
}

async function untilDead(pid: number): Promise<void> {
  await waitFor(`pid ${pid} to exit`, async () => !isAlive(pid), { timeoutMs: 20_000 });
}

function ports(cloud: LocalCloud): number[] {
  const port = (url: string) => Number(new URL(url).port);
  return [
    cloud.mysql.port,
    cloud.redis.port,
    port(cloud.planetscale.url),
    port(cloud.upstashRedis.url),
    port(cloud.kafka.url),
    port(cloud.gatewayControl.url),
  ];
}

async function mysqlAnswers(cloud: LocalCloud): Promise<boolean> {
  const conn = await createConnection({ ...cloud.mysql, connectTimeout: 5_000 });
  try {
    const [rows] = await conn.query("SELECT 1 AS ok");
    return (rows as { ok: number }[])[0]?.ok === 1;
  } finally {
    await conn.end();
  }
}

async function assertUp(cloud: RunningLocalCloud): Promise<void> {
  for (const pid of pids(cloud)) expect(isAlive(pid), `pid ${pid} alive`).toBe(true);
  expect(await mysqlAnswers(cloud)).toBe(true);
  const { password } = new URL(cloud.redis.url);
  expect(await redisPing(cloud.redis.host, cloud.redis.port, 1_000, password)).toBe(true);
  expect(await redisPing(cloud.redis.host, cloud.redis.port)).toBe(false); // no password, no answer
  const health = await controlFetch(cloud.gatewayControl, "/health");
  expect(health.status).toBe(200);
}

async function assertGone(cloud: RunningLocalCloud): Promise<void> {
  for (const pid of pids(cloud)) expect(isAlive(pid), `pid ${pid} alive`).toBe(false);
  for (const port of ports(cloud)) expect(await isPortFree(port), `port ${port} free`).toBe(true);
  expect(serversUnder(root)).toEqual([]);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "coupons-stack-"));
});

afterAll(async () => {
  // Whatever a failed test left behind.
  for (const pid of serversUnder(root)) process.kill(pid, "SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("local cloud processes", () => {
  it("starts MariaDB and Redis that answer, and stops them without a trace", async () => {
    const cloud = await startLocalCloud({ root: join(root, "a") });
    try {
      await assertUp(cloud);
    } finally {
      await cloud.stop();
    }
    await assertGone(cloud);
    await cloud.stop(); // idempotent
    expect(existsSync(join(root, "a", "mariadb", "mariadbd.pid"))).toBe(false);
    expect(existsSync(join(root, "a", "mariadb", "mariadbd.sock"))).toBe(false);
    expect(existsSync(join(root, "a", "redis", "redis.pid"))).toBe(false);
  });

  it("applies the migrations: both tables, the unique key and the index, recorded once", async () => {
    const cloud = await startLocalCloud({ root: join(root, "a") }); // warm start, same root
    try {
      const conn = await createConnection({ ...cloud.mysql });
      try {
        const [tables] = await conn.query(
          "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ?",
          [cloud.mysql.database],
        );
        expect((tables as { t: string }[]).map((r) => r.t).sort()).toEqual([
          "__drizzle_migrations",
          "coupon_events",
          "user_coupons",
        ]);
        const [stats] = await conn.query(
          `SELECT table_name AS t, index_name AS name, non_unique AS nonUnique,
                  GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols
             FROM information_schema.statistics WHERE table_schema = ?
            GROUP BY table_name, index_name, non_unique ORDER BY 1, 2`,
          [cloud.mysql.database],
        );
        const keys = (stats as { t: string; name: string; nonUnique: number; cols: string }[])
          .filter((r) => r.t !== "__drizzle_migrations")
          .map((r) => ({ ...r, nonUnique: Number(r.nonUnique) }));
        expect(keys).toEqual([
          { t: "coupon_events", name: "PRIMARY", nonUnique: 0, cols: "id" },
          { t: "user_coupons", name: "PRIMARY", nonUnique: 0, cols: "id" },
          {
            t: "user_coupons",
            name: "user_coupons_event_user_uq",
            nonUnique: 0,
            cols: "event_id,user_id",
          },
          {
            t: "user_coupons",
            name: "user_coupons_user_issued_idx",
            nonUnique: 1,
            cols: "user_id,issued_at",
          },
        ]);
        const [charsets] = await conn.query(
          `SELECT DISTINCT character_set_name AS cs FROM information_schema.columns
            WHERE table_schema = ? AND table_name IN ('user_coupons', 'coupon_events')
              AND character_set_name IS NOT NULL`,
          [cloud.mysql.database],
        );
        expect((charsets as { cs: string }[]).map((r) => r.cs)).toEqual(["utf8mb4"]);
        // Identifiers compare byte for byte (platform/db/schema/binary-text.ts): never a collated type.
        const [ids] = await conn.query(
          `SELECT CONCAT(table_name, '.', column_name) AS col, column_type AS type
             FROM information_schema.columns
            WHERE table_schema = ? AND table_name IN ('user_coupons', 'coupon_events')
              AND column_name IN ('id', 'event_id', 'user_id', 'order_id')
            ORDER BY 1`,
          [cloud.mysql.database],
        );
        expect(ids).toEqual([
          { col: "coupon_events.id", type: "varbinary(64)" },
          { col: "user_coupons.event_id", type: "varbinary(64)" },
          { col: "user_coupons.id", type: "varbinary(96)" },
          { col: "user_coupons.order_id", type: "varbinary(512)" },
          { col: "user_coupons.user_id", type: "varbinary(512)" },
        ]);
        const [applied] = await conn.query("SELECT COUNT(*) AS n FROM __drizzle_migrations");
        expect(Number((applied as { n: number }[])[0]?.n)).toBe(
          readdirSync(join(REPO, "migrations")).filter((f) => f.endsWith(".sql")).length,
        );
      } finally {
        await conn.end();
      }
    } finally {
      await cloud.stop();
    }
    await assertGone(cloud);
  });

  it("comes back after MariaDB and Redis crash (SIGKILL): stale pid and socket files cleaned", async () => {
    const dir = join(root, "b");
    const crashed = await startLocalCloud({ root: dir });
    await assertUp(crashed);
    for (const pid of pids(crashed)) process.kill(pid, "SIGKILL");
    for (const pid of pids(crashed)) await untilDead(pid);
    // What a crash leaves behind.
    expect(existsSync(join(dir, "mariadb", "mariadbd.pid"))).toBe(true);
    expect(existsSync(join(dir, "mariadb", "mariadbd.sock"))).toBe(true);
    expect(existsSync(join(dir, "redis", "redis.pid"))).toBe(true);
    await crashed.stop(); // the gateway; the servers are already gone
    await assertGone(crashed);

    const again = await startLocalCloud({ root: dir });
    try {
      expect(pids(again)).not.toEqual(pids(crashed));
      await assertUp(again);
    } finally {
      await again.stop();
    }
    await assertGone(again);
  });

  it("a crashed parent's orphans are stopped by the next start; the CLI stops on SIGTERM", async () => {
    const dir = join(root, "c");
    // The CLI in a child process, SIGKILLed: its servers are orphaned (nothing could stop them).
    const first = await startCli(dir);
    const orphans = [first.cloud.processes.mariadbd.pid, first.cloud.processes.redis.pid];
    first.child.kill("SIGKILL");
    await first.exited;
    for (const pid of orphans) expect(isAlive(pid)).toBe(true);

    const next = await startLocalCloud({ root: dir });
    try {
      for (const pid of orphans) expect(isAlive(pid)).toBe(false);
      await assertUp(next);
      expect(serversUnder(dir).sort()).toEqual(pids(next).sort());
    } finally {
      await next.stop();
    }
    await assertGone(next);

    // The CLI stops its servers cleanly on SIGTERM.
    const cli = await startCli(dir);
    expect(serversUnder(dir).sort()).toEqual(
      [cli.cloud.processes.mariadbd.pid, cli.cloud.processes.redis.pid].sort(),
    );
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
    for (const port of ports(cli.cloud)) expect(await isPortFree(port)).toBe(true);
    expect(serversUnder(dir)).toEqual([]);
  });
});

/** `node local/cloud.ts --root <dir>` in a child process; resolves once it printed its JSON. */
async function startCli(
  dir: string,
): Promise<{ child: ChildProcess; cloud: RunningLocalCloud; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(REPO, "local", "cloud.ts"), "--root", dir], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  let out = "";
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const cloud = await new Promise<RunningLocalCloud>((resolveCloud, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      try {
        resolveCloud(JSON.parse(out) as RunningLocalCloud);
      } catch {
        // not complete yet
      }
    });
    void exited.then((code) => reject(new Error(`cloud CLI exited (${code}) early:\n${err}`)));
  });
  return { child, cloud, exited };
}

describe("gateway control port", () => {
  /** Stub handlers: the control port and the fault wrapper are what is under test here. */
  const stub = (name: string) => (faults: Faults) => ({
    handle(req: IncomingMessage, res: ServerResponse) {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ name, rejectMatching: faults.rejectMatching }));
    },
    async close() {},
  });

  const startStubGateway = () =>
    startGateway({
      mysql: { host: "127.0.0.1", port: 1, user: "u", password: "p", database: "d" },
      redisUrl: "redis://127.0.0.1:1",
      planetscale: { username: "ps-user", password: "ps pass" },
      upstashRedis: { token: "t" },
      kafka: { username: "k", password: "kp" },
      turnstile: { secret: "ts" },
      handlers: {
        planetscale: stub("ps"),
        upstashRedis: stub("ur"),
        kafka: stub("k"),
        turnstile: stub("ts"),
      },
    });

  it("injects error and hang faults, and stops and restarts one API on the same port", async () => {
    const gw = await startStubGateway();
    const control = (path: string, body?: unknown) =>
      controlFetch(gw.gatewayControl, path, {
        method: "POST",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    try {
      expect(gw.planetscale.url).toBe(`http://ps-user:ps%20pass@${gw.planetscale.host}`);
      expect((await controlFetch(gw.gatewayControl, "/health")).status).toBe(200);
      expect(await (await fetch(gw.kafka.url)).json()).toEqual({ name: "k", rejectMatching: [] });

      // error, with rejectMatching passed through to the handler's Faults object
      let res = await control("/faults/kafka", { mode: "error", rejectMatching: ["poison"] });
      expect(await res.json()).toEqual({ mode: "error", rejectMatching: ["poison"] });
      res = await fetch(gw.kafka.url, { method: "POST", body: "x" });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "injected fault" });
      expect(gw.faults.kafka.mode).toBe("error");
      expect((await fetch(gw.upstashRedis.url)).status).toBe(200); // other APIs unaffected

      // hang: no answer until the mode changes, then the connection is dropped
      await control("/faults/kafka", { mode: "hang" });
      let settled = false;
      const hung = fetch(gw.kafka.url).then(
        () => "answered",
        () => "dropped",
      );
      void hung.then(() => {
        settled = true;
      });
      const held = async () => {
        const health = (await (await controlFetch(gw.gatewayControl, "/health")).json()) as {
          apis: Record<string, { held: number }>;
        };
        return health.apis.kafka?.held ?? 0;
      };
      await waitFor("the gateway to hold the request", async () => (await held()) === 1, {
        timeoutMs: 5_000,
      });
      expect(settled).toBe(false);
      await control("/faults/kafka", { mode: "none" });
      expect(await hung).toBe("dropped");
      expect(await (await fetch(gw.kafka.url)).json()).toEqual({
        name: "k",
        rejectMatching: ["poison"],
      });

      expect((await control("/faults/kafka", { mode: "sometimes" })).status).toBe(400);
      expect((await control("/faults/nope", {})).status).toBe(404);

      // stop: connection refused; start: the same port again
      const port = Number(new URL(gw.kafka.url).port);
      expect((await control("/apis/kafka/stop")).status).toBe(200);
      expect(await isPortFree(port)).toBe(true);
      await expect(fetch(gw.kafka.url)).rejects.toThrow();
      expect(await (await control("/apis/kafka/start")).json()).toEqual({
        api: "kafka",
        listening: true,
        port,
      });
      expect((await fetch(gw.kafka.url)).status).toBe(200);
    } finally {
      await gw.stop();
    }
    for (const port of Object.values(gw.ports)) expect(await isPortFree(port)).toBe(true);
  });

  it("counts each API's requests, fault answers and held ones included, until a reset", async () => {
    const gw = await startStubGateway();
    const control = (path: string, method = "GET", body?: unknown) =>
      controlFetch(gw.gatewayControl, path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const stats = async () => (await (await control("/stats")).json()) as GatewayStats;
    const zero = {
      planetscale: { requests: 0 },
      upstashRedis: { requests: 0 },
      kafka: { requests: 0 },
      turnstile: { requests: 0 },
    };
    try {
      expect(await stats()).toEqual(zero);
      await fetch(gw.kafka.url);
      await fetch(gw.kafka.url, { method: "POST", body: "x" });
      await fetch(`${gw.upstashRedis.url}/get/k`);
      // Answered by an injected fault: counted all the same.
      await control("/faults/planetscale", "POST", { mode: "error" });
      expect((await fetch(`http://${gw.planetscale.host}`)).status).toBe(500);
      expect(await stats()).toEqual({
        planetscale: { requests: 1 },
        upstashRedis: { requests: 1 },
        kafka: { requests: 2 },
        turnstile: { requests: 0 },
      });

      // Held by `hang`: counted when it arrives, not when (if ever) it is answered.
      await control("/faults/kafka", "POST", { mode: "hang" });
      const hung = fetch(gw.kafka.url).then(
        () => "answered",
        () => "dropped",
      );
      const counted = async () => (await stats()).kafka.requests === 3;
      await waitFor("the held request to be counted", counted, { timeoutMs: 5_000 });
      await control("/faults", "DELETE");
      expect(await hung).toBe("dropped");

      // Reset: answers the zeroed counters; counting starts again from there.
      const reset = await control("/stats/reset", "POST");
      expect(reset.status).toBe(200);
      expect(await reset.json()).toEqual(zero);
      expect(await stats()).toEqual(zero);
      await fetch(gw.kafka.url);
      expect((await stats()).kafka.requests).toBe(1);

      expect((await control("/stats/reset")).status).toBe(405);
      expect((await control("/stats", "POST")).status).toBe(405);
      expect((await stats()).kafka.requests).toBe(1); // control requests are not counted
    } finally {
      await gw.stop();
    }
  });

  it("a new random token each start, of at least 32 characters", async () => {
    const [a, b] = await Promise.all([startStubGateway(), startStubGateway()]);
    try {
      expect(a.gatewayControl.token.length).toBeGreaterThanOrEqual(32);
      expect(a.gatewayControl.token).not.toBe(b.gatewayControl.token);
      // One gateway's token opens only that gateway.
      const crossed = { url: a.gatewayControl.url, token: b.gatewayControl.token };
      expect((await controlFetch(crossed, "/health")).status).toBe(403);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("refuses requests without the token, with a wrong one, and any carrying an Origin", async () => {
    const gw = await startStubGateway();
    const { url, token } = gw.gatewayControl;
    const setError = (headers: Record<string, string>) =>
      fetch(`${url}/faults/kafka`, {
        method: "POST",
        headers,
        body: JSON.stringify({ mode: "error" }),
      });
    const auth = { Authorization: `Bearer ${token}` };
    try {
      const none = await setError({});
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await fetch(`${url}/health`)).status).toBe(401);
      expect((await fetch(`${url}/stats`)).status).toBe(401);

      expect((await setError({ Authorization: `Bearer ${token}x` })).status).toBe(403);
      expect((await setError({ Authorization: `Bearer ${token.slice(1)}` })).status).toBe(403);
      expect((await setError({ Authorization: `Basic ${btoa(`x:${token}`)}` })).status).toBe(401);

      // A web page on this machine: refused even with the right token, preflight included.
      for (const origin of ["http://localhost:3000", "null", url]) {
        expect((await setError({ ...auth, Origin: origin })).status).toBe(403);
      }
      expect((await setError({ ...auth, "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
      const preflight = await fetch(`${url}/faults/kafka`, {
        method: "OPTIONS",
        headers: {
          Origin: "http://localhost:3000",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization, content-type",
        },
      });
      expect(preflight.status).toBe(403);
      expect(preflight.headers.get("access-control-allow-origin")).toBeNull();

      // None of those changed anything, and they reached no API.
      expect(gw.faults.kafka.mode).toBe("none");
      expect((await fetch(gw.kafka.url)).status).toBe(200);
      // The token alone, with no Origin, is obeyed.
      expect((await setError(auth)).status).toBe(200);
      expect(gw.faults.kafka.mode).toBe("error");
    } finally {
      await gw.stop();
    }
  });
});
