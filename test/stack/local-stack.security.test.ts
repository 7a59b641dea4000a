/**
 * The local stack on a shared machine: MariaDB's administrator logs in by unix socket only (never
 * over TCP), file I/O is confined to its own folder, and mariadbd drops root when it can; Redis
 * needs a password random per start; the gateway's stand-ins take credentials random per start and refuse a browser's request or a
 * foreign `Host` (DNS rebinding) before anything runs. Every refusal is checked to change nothing.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { localCredentials, type RunningLocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { startMariaDB } from "../../local/servers/mariadb.ts";
import { redisPing } from "../../local/servers/redis.ts";

const uidOf = (pid: number) =>
  Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

let root: string;
let cloud: RunningLocalCloud;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "coupons-stack-security-"));
  // mkdtemp makes it 0700: open it as `npm start`'s .local/ is, so that `mysql` can reach it.
  chmodSync(root, 0o755);
  cloud = await startLocalCloud({ root: join(root, "cloud") });
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A raw HTTP request, so that `Host` and `Origin` can be anything a client could send. */
function send(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method: opts.method ?? "POST",
        path: opts.path ?? "/",
        headers: opts.headers,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("MariaDB", () => {
  it("refuses every TCP login as root, with or without a password", async () => {
    const { host, port } = cloud.mysql;
    for (const password of [
      undefined,
      "",
      "root",
      "invalid",
      "coupons-local",
      cloud.mysql.password,
    ]) {
      for (const h of [host, "localhost"]) {
        const login = createConnection({
          host: h,
          port,
          user: "root",
          password,
          connectTimeout: 5_000,
        });
        await expect(login, `root@${h} password ${JSON.stringify(password)}`).rejects.toMatchObject(
          {
            code: expect.stringMatching(/^ER_(HOST_NOT_PRIVILEGED|ACCESS_DENIED_ERROR)$/),
          },
        );
      }
    }
  });

  it("confines file I/O to its own folder, and the service's user has no FILE privilege", async () => {
    const { host, port, user, password, database } = cloud.mysql;
    const conn = await createConnection({ host, port, user, password, database });
    try {
      const [rows] = await conn.query("SELECT @@secure_file_priv AS dir");
      const dir = (rows as { dir: string }[])[0]?.dir;
      expect(dir).toBe(`${join(cloud.processes.mariadbd.dataDir, "files")}/`);
      await expect(
        conn.query(`SELECT 1 INTO OUTFILE '${join(root, "leak.txt")}'`),
      ).rejects.toThrow();
      await expect(conn.query("SELECT LOAD_FILE('/etc/passwd') AS f")).resolves.toEqual(
        expect.arrayContaining([[{ f: null }]]),
      );
    } finally {
      await conn.end();
    }
  });

  it("runs as the unprivileged mysql user when started as root and that user exists", () => {
    const uid = uidOf(cloud.processes.mariadbd.pid);
    const passwd = readFileSync("/etc/passwd", "utf8");
    const mysql = /^mysql:[^:]*:(\d+):/m.exec(passwd);
    if (process.getuid?.() !== 0) {
      expect(uid).toBe(process.getuid?.());
    } else if (mysql) {
      expect(uid).toBe(Number(mysql[1]));
    } else {
      // No such user: it stays root (said on stderr at start), still with socket-only root login.
      expect(uid).toBe(0);
    }
  });

  it("falls back to root, saying why, when mysql cannot reach its folder; root still has no TCP login", async () => {
    if (process.getuid?.() !== 0) return; // only root can run it as another user
    const closed = mkdtempSync(join(tmpdir(), "coupons-mariadb-closed-")); // 0700: mysql is out
    const said = vi.spyOn(console, "error").mockImplementation(() => {});
    const server = await startMariaDB({ dataDir: join(closed, "mariadb") });
    try {
      expect(server.runsAs).toBe("root");
      expect(uidOf(server.pid)).toBe(0);
      expect(said.mock.calls.flat().join("\n")).toMatch(/running mariadbd as root: /);
      const login = createConnection({ host: server.host, port: server.port, user: "root" });
      await expect(login).rejects.toMatchObject({
        code: expect.stringMatching(/^ER_(HOST_NOT_PRIVILEGED|ACCESS_DENIED_ERROR)$/),
      });
    } finally {
      said.mockRestore();
      await server.stop();
      rmSync(closed, { recursive: true, force: true });
    }
  });
});

describe("Redis", () => {
  it("answers no command without the password random per start", async () => {
    const { host, port, url } = cloud.redis;
    const { password } = new URL(url);
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(await redisPing(host, port)).toBe(false);
    expect(await redisPing(host, port, 1_000, "wrong")).toBe(false);
    expect(await redisPing(host, port, 1_000, password)).toBe(true);
  });
});

describe("the gateway's stand-ins", () => {
  it("take credentials random per start, never the ones once fixed in the source", () => {
    const a = localCredentials();
    const b = localCredentials();
    expect(a.upstashRedis.token).not.toBe(b.upstashRedis.token);
    expect(a.planetscale.password).not.toBe(b.planetscale.password);
    expect(a.kafka.password).not.toBe(b.kafka.password);
    expect(a.turnstile.secret).not.toBe(b.turnstile.secret);
    const fixed = ["coupons-local-ps", "coupons-local-redis-token", "coupons-local-kafka"];
    for (const value of [
      cloud.planetscale.password,
      cloud.upstashRedis.token,
      cloud.kafka.password,
      cloud.turnstile.secret,
    ]) {
      expect(fixed).not.toContain(value);
      expect(value.length).toBeGreaterThanOrEqual(32);
    }
  });

  it("refuse a foreign Host or a browser's Origin on every port, and run nothing", async () => {
    const { url, token } = cloud.upstashRedis;
    const port = new URL(url).port;
    const key = `rebinding-${Date.now()}`;
    const set = (headers: Record<string, string>) =>
      send(url, {
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          ...headers,
        },
        body: JSON.stringify(["SET", key, "pwned"]),
      });
    const foreign: Record<string, string>[] = [
      { Host: `evil.example:${port}` },
      { Host: `127.0.0.1.nip.io:${port}` },
      { Host: "127.0.0.1" },
      { Host: `127.0.0.1:${Number(port) + 1}` },
      { Host: `localhost.evil.example:${port}` },
      { Host: `127.0.0.1:${port}`, Origin: "https://evil.example" },
      { Host: `127.0.0.1:${port}`, Origin: "null" },
      { Host: `127.0.0.1:${port}`, "Sec-Fetch-Site": "cross-site" },
    ];
    for (const headers of foreign) {
      const res = await set(headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    // Nothing ran: the key was never set. The same request from a local client works.
    const get = () =>
      send(url, {
        headers: { Authorization: `Bearer ${token}`, Host: `127.0.0.1:${port}` },
        body: JSON.stringify(["GET", key]),
      });
    expect(JSON.parse((await get()).body)).toEqual({ result: null });
    expect((await set({ Host: `localhost:${port}` })).status).toBe(200);
    expect(JSON.parse((await get()).body)).toEqual({ result: "pwned" });

    // Every other port, the control port included, refuses a rebound name the same way.
    for (const base of [
      cloud.planetscale.host.replace(/^/, "http://"),
      cloud.kafka.url,
      cloud.turnstile.url,
      cloud.gatewayControl.url,
    ]) {
      const p = new URL(base).port;
      const refused: Record<string, string>[] = [
        { Host: `evil.example:${p}` },
        { Host: `127.0.0.1:${p}`, Origin: "https://evil.example" },
      ];
      for (const headers of refused) {
        const res = await send(base, {
          method: "GET",
          path: "/health",
          headers: { Authorization: `Bearer ${cloud.gatewayControl.token}`, ...headers },
        });
        expect(res.status, `${base} ${JSON.stringify(headers)}`).toBe(403);
      }
    }
  });

  it("refuse the credentials once fixed in the source", async () => {
    const { url } = cloud.upstashRedis;
    const res = await send(url, {
      headers: { Authorization: "Bearer coupons-local-redis-token", Host: new URL(url).host },
      body: JSON.stringify(["PING"]),
    });
    expect(res.status).toBe(401);
  });
});
