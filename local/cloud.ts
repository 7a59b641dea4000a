/**
 * The local cloud: a real MariaDB and a real redis-server of the project's own (own ports and
 * data folders under `root`), the drizzle-kit migrations applied, and the HTTP gateway standing in
 * for PlanetScale, Upstash Redis and Kafka over HTTP. See docs/local-cloud.md.
 *
 * CLI: `node local/cloud.ts --root .local/cloud` starts it, prints the endpoints as JSON, and stops
 * everything on SIGINT/SIGTERM.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { startGateway } from "./gateway/server.ts";
import { applyMigrations } from "./migrate.ts";
import { ensureBinaries } from "./servers/binaries.ts";
import { type MariaDBServer, startMariaDB } from "./servers/mariadb.ts";
import { type RedisServer, startRedis } from "./servers/redis.ts";
import type { GatewayApi, LocalCloud } from "./stack-types.ts";

/**
 * Credentials the local stand-ins accept: random per start (written to the stack file, 0600), so
 * that another user of a shared machine cannot run SQL or Redis commands through them.
 */
export function localCredentials() {
  const secret = () => randomBytes(24).toString("base64url");
  return {
    planetscale: { username: "coupons", password: secret() },
    upstashRedis: { token: secret() },
    kafka: { username: "coupons", password: secret() },
    turnstile: { secret: secret() },
  };
}

/** 0 or absent: a free port. */
export type LocalCloudPorts = Partial<Record<GatewayApi | "control" | "mysql" | "redis", number>>;

export interface ServerProcess {
  pid: number;
  dataDir: string;
  logFile: string;
}

export interface RunningLocalCloud extends LocalCloud {
  /** The server processes, for diagnostics and the process tests. */
  processes: { mariadbd: ServerProcess; redis: ServerProcess };
  /** Stops the gateway, then both servers. Idempotent. */
  stop(): Promise<void>;
}

const describe = (s: MariaDBServer | RedisServer): ServerProcess => ({
  pid: s.pid,
  dataDir: s.dataDir,
  logFile: s.logFile,
});

export async function startLocalCloud(opts: {
  root: string;
  ports?: LocalCloudPorts;
  /**
   * Redis keeps its data (the Kafka stand-in's topics, committed offsets) across restarts in an
   * append-only file under `root` (`npm start`). Default false: a throwaway instance (`npm test`).
   */
  persistRedis?: boolean;
}): Promise<RunningLocalCloud> {
  const root = resolve(opts.root);
  const ports = opts.ports ?? {};
  mkdirSync(root, { recursive: true });
  const binaries = ensureBinaries();

  const started = await Promise.allSettled([
    startMariaDB({ dataDir: join(root, "mariadb"), port: ports.mysql, binaries }),
    startRedis({
      dataDir: join(root, "redis"),
      port: ports.redis,
      binaries,
      persist: opts.persistRedis,
    }),
  ]);
  const [mariaResult, redisResult] = started;
  if (mariaResult.status === "rejected" || redisResult.status === "rejected") {
    await Promise.allSettled(
      started.flatMap((r) => (r.status === "fulfilled" ? [r.value.stop()] : [])),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    throw failed?.reason;
  }
  const mariadb = mariaResult.value;
  const redis = redisResult.value;
  const stopServers = async () => {
    await Promise.all([mariadb.stop(), redis.stop()]);
  };

  const mysql = {
    host: mariadb.host,
    port: mariadb.port,
    user: mariadb.user,
    password: mariadb.password,
    database: mariadb.database,
  };
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    await applyMigrations(mysql);
    gateway = await startGateway({
      mysql,
      redisUrl: redis.url,
      ...localCredentials(),
      ports: {
        planetscale: ports.planetscale,
        upstashRedis: ports.upstashRedis,
        kafka: ports.kafka,
        turnstile: ports.turnstile,
        control: ports.control,
      },
    });
  } catch (err) {
    await stopServers().catch(() => undefined);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    mysql,
    redis: { host: redis.host, port: redis.port, url: redis.url },
    planetscale: gateway.planetscale,
    upstashRedis: gateway.upstashRedis,
    kafka: gateway.kafka,
    turnstile: gateway.turnstile,
    gatewayControl: gateway.gatewayControl,
    processes: { mariadbd: describe(mariadb), redis: describe(redis) },
    stop() {
      stopping ??= (async () => {
        const gatewayStopped = await gateway.stop().then(
          () => undefined,
          (err: unknown) => err,
        );
        await stopServers();
        if (gatewayStopped !== undefined) throw gatewayStopped;
      })();
      return stopping;
    },
  };
}

function parseArgs(argv: string[]): { root: string } {
  let root = ".local/cloud";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--root" && argv[i + 1]) root = argv[++i] as string;
    else if (arg.startsWith("--root=")) root = arg.slice("--root=".length);
    else {
      console.error("usage: node local/cloud.ts [--root <folder>]   (default .local/cloud)");
      process.exit(2);
    }
  }
  return { root };
}

if (import.meta.main) {
  const { root } = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const cloud = await startLocalCloud({ root }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping the local cloud…`);
    cloud.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  console.log(JSON.stringify(cloud, null, 2));
  console.error(
    `local cloud up in ${Date.now() - t0} ms (root ${resolve(root)}); Ctrl-C stops it.`,
  );
}
