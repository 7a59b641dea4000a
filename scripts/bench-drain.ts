/**
 * `npm run bench:drain`: how long draining 10,000 accepted claims to MySQL and Kafka takes, and
 * in how many HTTP requests. Runs the real stack (workerd serving the bundle, the local cloud)
 * on free ports in a temporary folder, loads it from this process over loopback, prints a report.
 *
 *   live:    10,000 claims (64 at a time) with both sinks up; drained = outbox empty.
 *   backlog: both sink APIs stopped while 10,000 claims are made, then started again; timed from
 *            the restart to an empty outbox (retry backoff from 50 ms, capped at 200 ms, for the
 *            measurement).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { startLocalCloud } from "../local/cloud.ts";
import { controlFetch } from "../local/gateway/control-client.ts";
import { freePort } from "../local/servers/process.ts";
import { bundleWorker, startWorker } from "../local/worker.ts";
import { workerBindings } from "../local/worker-bindings.ts";

const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const SECRET = "bench-jwt-secret-0123456789abcdef-0123456789";
const ADMIN = "bench-admin-token-0123456789";

type Counts = Record<"planetscale" | "upstashRedis" | "kafka", { requests: number }>;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "coupon-bench-"));
  const cloud = await startLocalCloud({ root: join(dir, "cloud") });
  let stopWorker = async () => {};
  try {
    const worker = await startWorker({
      dir: join(dir, "worker"),
      bundle: await bundleWorker(join(dir, "build")),
      host: "127.0.0.1",
      port: await freePort("127.0.0.1"),
      bindings: {
        JWT_SECRET: SECRET,
        ADMIN_TOKEN: ADMIN,
        ...workerBindings(cloud),
        SINK_RETRY_BASE_MS: "50",
        SINK_RETRY_MAX_MS: "200",
      },
    });
    stopWorker = () => worker.stop();
    const control = cloud.gatewayControl;
    const tokens = await Promise.all(
      Array.from({ length: CLAIMS }, (_, i) =>
        sign({ sub: `bench-${i}`, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET, "HS256"),
      ),
    );
    const api = (path: string, init: RequestInit = {}) => fetch(`${worker.url}${path}`, init);
    const admin = { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" };

    async function createEvent(id: string): Promise<void> {
      const res = await api("/v1/events", {
        method: "POST",
        headers: admin,
        body: JSON.stringify({
          id,
          name: id,
          totalStock: CLAIMS,
          startsAt: new Date().toISOString(),
        }),
      });
      if (res.status !== 201) throw new Error(`create ${id}: ${res.status} ${await res.text()}`);
    }

    async function claimAll(
      id: string,
    ): Promise<{ seconds: number; statuses: Map<number, number> }> {
      const statuses = new Map<number, number>();
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < CLAIMS) {
            const token = tokens[next++];
            const res = await api(`/v1/events/${id}/claims`, {
              method: "POST",
              headers: { Authorization: `Bearer ${token}` },
            });
            await res.arrayBuffer();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      );
      return { seconds: (performance.now() - t0) / 1000, statuses };
    }

    async function pending(id: string): Promise<number> {
      const res = await api(`/v1/events/${id}/stats`, { headers: admin });
      return ((await res.json()) as { outbox: { pending: number } }).outbox.pending;
    }

    async function untilDrained(id: string): Promise<number> {
      const t0 = performance.now();
      while ((await pending(id)) > 0) await new Promise((r) => setTimeout(r, 20));
      return (performance.now() - t0) / 1000;
    }

    const gateway = async (path: string, method = "GET") =>
      (await (await controlFetch(control, path, { method })).json()) as Counts;
    const apis = async (action: "stop" | "start") => {
      for (const target of ["planetscale", "kafka"]) {
        await controlFetch(control, `/apis/${target}/${action}`, { method: "POST" });
      }
    };

    // Live: claims and drain at the same time.
    await createEvent("bench-live");
    await gateway("/stats/reset", "POST");
    const t0 = performance.now();
    const live = await claimAll("bench-live");
    const tailSeconds = await untilDrained("bench-live");
    const liveTotal = (performance.now() - t0) / 1000;
    const liveCounts = await gateway("/stats");

    // Backlog: the sinks come back to 10,000 waiting rows.
    await createEvent("bench-backlog");
    await apis("stop");
    const backlog = await claimAll("bench-backlog");
    const waiting = await pending("bench-backlog");
    await gateway("/stats/reset", "POST");
    await apis("start");
    const drainSeconds = await untilDrained("bench-backlog");
    const backlogCounts = await gateway("/stats");

    const fmt = (m: Map<number, number>) => JSON.stringify(Object.fromEntries(m));
    console.log(`
drain benchmark: ${CLAIMS} claims, ${CONCURRENCY} concurrent, ${cpus().length} cores (${cpus()[0]?.model ?? "?"})
live     claims ${live.seconds.toFixed(2)} s (${(CLAIMS / live.seconds).toFixed(0)} claims/s, statuses ${fmt(live.statuses)}),
         outbox empty ${tailSeconds.toFixed(2)} s after the last answer (${liveTotal.toFixed(2)} s in all);
         gateway requests: MySQL ${liveCounts.planetscale.requests}, Kafka ${liveCounts.kafka.requests}, Redis ${liveCounts.upstashRedis.requests}
backlog  ${waiting} rows waiting (claims took ${backlog.seconds.toFixed(2)} s, statuses ${fmt(backlog.statuses)});
         drained in ${drainSeconds.toFixed(2)} s after the sinks came back,
         gateway requests: MySQL ${backlogCounts.planetscale.requests}, Kafka ${backlogCounts.kafka.requests}, Redis ${backlogCounts.upstashRedis.requests}
(gateway requests = HTTP requests the Worker's objects made, failed ones included; Redis = outbox
 summaries for /health; polling /stats goes to the Worker, not the gateway)`);
  } finally {
    await stopWorker();
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
