/**
 * `npm run profile -- [--route claims|sold-out|get-event|touch-nothing] [--seconds 5]`: a V8 CPU
 * profile of the Worker under load, taken through workerd's inspector, on the same stack as
 * `npm start` / `npm run bench` (FRONTS as there: the first front's process and the objects'
 * process are profiled apart). Prints the functions with the most self time per process and
 * service and writes `.local/profile/<process>-<service>.cpuprofile` (open it in Chrome DevTools'
 * Performance panel or any .cpuprofile viewer).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { Pool } from "undici";
import { isolateSessions, startInspectedStack } from "./inspector.ts";

const ROOT = resolve(import.meta.dirname, "..");
const OUT = join(ROOT, ".local", "profile");
const ROUTES = ["claims", "sold-out", "get-event", "touch-nothing"] as const;
type Route = (typeof ROUTES)[number];

const { values } = parseArgs({
  options: {
    route: { type: "string", default: "claims" },
    seconds: { type: "string", default: "5" },
  },
});
const route = values.route as Route;
if (!ROUTES.includes(route)) throw new Error(`--route: one of ${ROUTES.join(", ")}`);
const seconds = Number(values.seconds);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

function topSelfTime(profile: Profile, count: number): string[] {
  const self = new Map<string, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = profile.samples?.length ?? 0;
  for (const id of profile.samples ?? []) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || "(anonymous)"} ${url.split("/").pop() ?? ""}:${lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => `${((100 * n) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${name}`);
}

async function main(): Promise<void> {
  // The bundle stays in .local/profile-<pid>/build: the profile's line numbers point into it.
  const stack = await startInspectedStack("profile");
  const { worker, secrets, inspectorPort } = stack;
  const pool = new Pool(worker.url, { connections: 64 });
  try {
    const admin = {
      authorization: `Bearer ${secrets.ADMIN_TOKEN}`,
      "content-type": "application/json",
    };
    const eventId = `profile-${Date.now()}`;
    const stock = route === "sold-out" ? 1 : 10_000_000;
    await pool
      .request({
        method: "POST",
        path: "/v1/events",
        headers: admin,
        body: JSON.stringify({
          id: eventId,
          name: "profile",
          totalStock: stock,
          startsAt: new Date(Date.now() - 1000).toISOString(),
        }),
      })
      .then((r) => r.body.dump());
    const now = Math.floor(Date.now() / 1000);
    let user = 0;
    const token = () =>
      sign({ sub: `u${user++}`, iat: now, exp: now + 3600 }, secrets.JWT_SECRET, "HS256");
    const tokens = await Promise.all(Array.from({ length: 60_000 }, token));
    const request = (): Parameters<Pool["request"]>[0] =>
      route === "touch-nothing"
        ? { method: "GET", path: "/problems/sold-out" }
        : route === "get-event"
          ? { method: "GET", path: `/v1/events/${eventId}` }
          : {
              method: "POST",
              path: `/v1/events/${eventId}/claims`,
              headers: { authorization: `Bearer ${tokens.pop() ?? ""}` },
            };

    const sessions = await isolateSessions(inspectorPort, worker.fronts);
    for (const { s } of sessions) {
      await s.send("Profiler.enable");
      await s.send("Profiler.setSamplingInterval", { interval: 100 });
    }
    // Warm up, then profile a fixed time of closed-loop load on 64 connections.
    const load = async (ms: number) => {
      const until = Date.now() + ms;
      let done = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (Date.now() < until && tokens.length > 0) {
            await pool.request(request()).then((r) => r.body.dump());
            done++;
          }
        }),
      );
      return done;
    };
    await load(1000);
    for (const { s } of sessions) await s.send("Profiler.start");
    const requests = await load(seconds * 1000);
    mkdirSync(OUT, { recursive: true });
    console.log(
      `${route}: ${requests} requests in ${seconds} s (${Math.round(requests / seconds)}/s)`,
    );
    for (const { title, s } of sessions) {
      const { profile } = (await s.send("Profiler.stop")) as { profile: Profile };
      const file = join(OUT, `${title.replace(/[^A-Za-z0-9_-]+/g, "_")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`\n${title}: ${profile.samples?.length ?? 0} samples → ${file}`);
      for (const line of topSelfTime(profile, 25)) console.log(line);
      s.close();
    }
  } finally {
    await pool.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
