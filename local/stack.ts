/**
 * `npm start`: the whole service on this machine. Starts the local cloud (MariaDB, Redis and the
 * HTTP gateway standing in for PlanetScale, Upstash Redis and Kafka), bundles the Worker, serves
 * it with workerd on PORT (default 8787), writes `.local/stack.json`, and stops everything on
 * Ctrl-C, SIGTERM or SIGHUP (`npm start` execs into this process, so its pid takes the signal).
 *
 * Each PORT has its own data folder and stack file: `.local/start/` and `.local/stack.json` for
 * the default PORT, `.local/start-<PORT>/` and `.local/stack-<PORT>.json` for any other, so two
 * starts on different PORTs (at least 8 apart: each takes PORT..PORT+7) run side by side. A start
 * on a folder a live stack holds refuses, naming it (local/stack-lock.ts); none stops another's
 * servers. `COUPON_LOCAL_STATE` moves `.local/` elsewhere (the two-stacks test).
 *
 * Settings come from the environment, then `.dev.vars` (written with random secrets when there is
 * none), and are validated with the Worker's own schema before anything starts: an invalid
 * configuration exits 1 naming the setting(s).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startLocalCloud } from "./cloud.ts";
import { devVarsNotice } from "./dev-vars.ts";
import { portInUseAdvice } from "./servers/port-holder.ts";
import { isPortFree } from "./servers/process.ts";
import {
  checkStackSettings,
  readStackSettings,
  stackBindings,
  validateBindings,
} from "./settings.ts";
import { liveStacks, lockStackDir } from "./stack-lock.ts";
import type { StackFile } from "./stack-types.ts";
import { bundleWorker, startWorker } from "./worker.ts";

const ROOT = resolve(import.meta.dirname, "..");
const STATE = resolve(ROOT, process.env.COUPON_LOCAL_STATE ?? ".local");
const DEFAULT_PORT = 8787;
const port = Number(process.env.PORT ?? DEFAULT_PORT);
const host = "127.0.0.1";
/** The default PORT keeps the folder and file names it always had. */
const suffix = port === DEFAULT_PORT ? "" : `-${port}`;
const stackFileName = `stack${suffix}.json`;

async function main(): Promise<void> {
  // COUPON_LOCAL_CLOUD=off serves the Worker alone: every sink `disabled`, coupons still issued.
  const withCloud = process.env.COUPON_LOCAL_CLOUD !== "off";
  const settings = readStackSettings(ROOT);
  const notice = devVarsNotice(settings.file, settings.created);
  if (notice) console.log(notice);
  // Everything the user controls, checked before anything starts (`npm run token` checks the same).
  const early = checkStackSettings(settings, withCloud);
  if (early.ignored.length > 0) {
    console.log(
      `ignored (the local cloud provides them; COUPON_LOCAL_CLOUD=off uses them): ${early.ignored.join(", ")}`,
    );
  }

  const dir = join(STATE, `start${suffix}`);
  mkdirSync(dir, { recursive: true });
  // Before anything in the folder is touched (stale servers are cleared only by its owner).
  const unlock = lockStackDir(dir, { port, url: `http://${host}:${port}` });
  try {
    await portsFree();
  } catch (err) {
    unlock();
    throw err;
  }
  const stops: (() => Promise<void>)[] = [async () => unlock()];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(err));
    rmSync(join(STATE, stackFileName), { force: true });
    process.exit(0);
  };
  // SIGHUP too: a closed terminal or ssh session must not leave the servers running.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void shutdown(signal));
  }

  const [cloudStarted, bundled] = await Promise.allSettled([
    withCloud
      ? startLocalCloud({ root: join(dir, "cloud"), ports: derivedPorts(port), persistRedis: true })
      : null,
    bundleWorker(join(dir, "build")),
  ]);
  const cloud = cloudStarted.status === "fulfilled" ? cloudStarted.value : null;
  if (cloud) stops.push(() => cloud.stop());
  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    if (cloudStarted.status === "rejected") throw cloudStarted.reason;
    if (bundled.status === "rejected") throw bundled.reason;
    // Exactly what workerd gets, checked once more now that the cloud's endpoints are known.
    const { bindings } = stackBindings(settings.values, cloud, withCloud);
    validateBindings(bindings, settings.file);
    const bundle = bundled.value;
    worker = await startWorker({ dir: join(dir, "worker"), bundle, host, port, bindings });
  } catch (err) {
    // Nothing is left running when the start fails half-way.
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
  stops.push(() => worker.stop());

  const stack = cloud
    ? ({ worker: worker.url, ...cloud } satisfies StackFile)
    : { worker: worker.url };
  // It holds the gateway's control token and the local credentials: this user's only (created
  // afresh, so the mode applies even where a crashed run left one behind).
  const stackFile = join(STATE, stackFileName);
  rmSync(stackFile, { force: true });
  writeFileSync(stackFile, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  console.log(`\ncoupon service   ${worker.url}   (API reference: ${worker.url}/docs)`);
  console.log(
    worker.fronts === 0
      ? `workerd          one process (FRONTS=0): pid ${worker.pid}`
      : `workerd          ${worker.fronts} front process(es) (pid ${worker.frontPids.join(", ")}) sharing the port; the objects' process pid ${worker.pid}`,
  );
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
  console.log(`written to ${stackFile} (data in ${dir}); Ctrl-C stops everything.`);
}

/** PORT..PORT+7 must be free: else name the live stacks (whose ranges may overlap) and stop. */
async function portsFree(): Promise<void> {
  const last = process.env.COUPON_LOCAL_CLOUD === "off" ? port : port + 7;
  for (let p = port; p <= last; p++) {
    if (await isPortFree(p, host)) continue;
    const others = liveStacks(STATE).map((o) => `pid ${o.pid} on PORT ${o.port} (${o.url})`);
    // No stack of this checkout holds it: name whoever does (an orphan, another checkout, …).
    throw new Error(
      `port ${p} (PORT${p === port ? "" : `+${p - port}`}) on ${host} is in use${
        others.length > 0
          ? `; running stacks: ${others.join(", ")}. Each stack takes PORT..PORT+7: choose a PORT at least 8 away.`
          : `: ${portInUseAdvice(p)}. Each stack takes PORT..PORT+7.`
      }`,
    );
  }
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
    turnstile: base + 7,
  };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
