/**
 * `npm start`: the whole service on this machine. Starts the local cloud (MariaDB, Redis and the
 * HTTP gateway standing in for PlanetScale, Upstash Redis and Kafka), bundles the Worker, serves
 * it with workerd on PORT (default 8787), writes `.local/stack.json`, and stops everything on
 * Ctrl-C or SIGTERM.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startLocalCloud } from "./cloud.ts";
import { localSecrets } from "./dev-vars.ts";
import type { StackFile } from "./stack-types.ts";
import { bundleWorker, startWorker } from "./worker.ts";
import { workerBindings } from "./worker-bindings.ts";

const ROOT = resolve(import.meta.dirname, "..");
const STATE = join(ROOT, ".local");
const port = Number(process.env.PORT ?? 8787);
const host = "127.0.0.1";

async function main(): Promise<void> {
  const dir = join(STATE, "start");
  mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(err));
    rmSync(join(STATE, "stack.json"), { force: true });
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  // COUPON_LOCAL_CLOUD=off serves the Worker alone: every sink `disabled`, coupons still issued.
  const withCloud = process.env.COUPON_LOCAL_CLOUD !== "off";
  const [cloud, bundle] = await Promise.all([
    withCloud ? startLocalCloud({ root: join(dir, "cloud"), ports: derivedPorts(port) }) : null,
    bundleWorker(join(dir, "build")),
  ]);
  if (cloud) stops.push(() => cloud.stop());

  const secrets = localSecrets(ROOT, ["JWT_SECRET", "ADMIN_TOKEN"]);
  const worker = await startWorker({
    dir: join(dir, "worker"),
    bundle,
    host,
    port,
    bindings: { ...secrets, ...(cloud ? workerBindings(cloud) : {}) },
  });
  stops.push(() => worker.stop());

  const stack = cloud
    ? ({ worker: worker.url, ...cloud } satisfies StackFile)
    : { worker: worker.url };
  writeFileSync(join(STATE, "stack.json"), `${JSON.stringify(stack, null, 2)}\n`);
  console.log(`\ncoupon service   ${worker.url}   (API reference: ${worker.url}/docs)`);
  if (cloud) {
    console.log(`MariaDB          ${cloud.mysql.host}:${cloud.mysql.port}  user ${cloud.mysql.user}  db ${cloud.mysql.database}
Redis            ${cloud.redis.url}
PlanetScale API  ${cloud.planetscale.host}
Upstash Redis    ${cloud.upstashRedis.url}
Kafka over HTTP  ${cloud.kafka.url}`);
  } else {
    console.log(
      "local cloud      off (COUPON_LOCAL_CLOUD=off): MySQL, Kafka and Redis sinks disabled",
    );
  }
  console.log("written to .local/stack.json; Ctrl-C stops everything.");
}

/** Every local endpoint sits just above PORT, so two stacks on different PORTs never collide. */
function derivedPorts(base: number) {
  return {
    planetscale: base + 1,
    upstashRedis: base + 2,
    kafka: base + 3,
    control: base + 4,
    mysql: base + 5,
    redis: base + 6,
  };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
