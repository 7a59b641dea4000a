/**
 * `npm run soak -- [--users 30000] [--events 8] [--connections 64]`: memory under a crowd of
 * distinct users (issue 21 item 12). On the stack `npm start` runs (FRONTS as there, in
 * `.local/soak-<pid>/`, never touching a running `npm start`), every user claims once on one of
 * the events (stock for half of them, so the rest are refused sold-out, mostly at the edge), reads
 * its coupon and reads the event; each user comes from an address of its own (per-address rate
 * limit keys) with a token of its own. Reports each isolate's JS heap through workerd's inspector
 * (`Runtime.getHeapUsage`) at the start, the peak (sampled every 2 s) and the end (idle), and
 * each workerd process's resident memory split as /proc tells it (anonymous vs file-backed).
 */
import { readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { Pool } from "undici";
import { BENCHMARKS_FILE, writeSection } from "./benchmarks-file.ts";
import { type InspectorSession, isolateSessions, startInspectedStack } from "./inspector.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "30000" },
    events: { type: "string", default: "8" },
    connections: { type: "string", default: "64" },
  },
});
const users = Number(values.users);
const eventCount = Number(values.events);
const connections = Number(values.connections);
if (!(users > 0 && eventCount > 0 && connections > 0)) throw new Error("bad arguments");
const SAMPLE_MS = 2_000;
const MB = 1024 * 1024;
const cpus = availableParallelism();

interface Heap {
  used: number;
  total: number;
}
interface Figures {
  start: Heap;
  peak: Heap;
  end: Heap;
  retained: Heap;
}

async function heapOf(s: InspectorSession): Promise<Heap> {
  const r = (await s.send("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
  return { used: r.usedSize, total: r.totalSize };
}

/** VmRSS, RssAnon and RssFile of a process, in bytes (Linux). */
function rssOf(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

const mb = (n: number) => (n / MB).toFixed(1).padStart(7);

async function main(): Promise<void> {
  // Production's per-address budget: every user has an address of its own here. The request
  // log stays quiet (half the users' claims/me are 404s, a line each).
  const stack = await startInspectedStack("soak", {
    RATE_LIMIT_PER_ADDRESS: "600/60s",
    REQUEST_LOG: "off",
  });
  const { worker, secrets, inspectorPort, dir } = stack;
  const pool = new Pool(worker.url, { connections });
  const processes = [
    ...worker.frontPids.map((pid, i) => ({ name: `front ${i + 1}`, pid })),
    { name: worker.fronts === 0 ? "workerd" : "objects", pid: worker.pid },
  ];
  try {
    const sessions = await isolateSessions(inspectorPort, worker.fronts);
    const figures = new Map<string, Figures>();
    const rss = new Map(
      processes.map((p) => [
        p.name,
        { start: rssOf(p.pid), peak: rssOf(p.pid), end: rssOf(p.pid) },
      ]),
    );
    const sample = async (at: "start" | "peak" | "end" | "retained") => {
      for (const { title, s } of sessions) {
        const heap = await heapOf(s);
        const f = figures.get(title) ?? { start: heap, peak: heap, end: heap, retained: heap };
        if (at !== "retained" && heap.used > f.peak.used) f.peak = heap;
        if (at !== "peak") f[at] = heap;
        figures.set(title, f);
      }
      // The heap snapshot behind "retained" takes memory of its own: RSS is read before it.
      if (at === "retained") return;
      for (const p of processes) {
        const r = rss.get(p.name);
        const now = rssOf(p.pid);
        if (!r) continue;
        if (at === "start") r.start = now;
        if (at === "end") r.end = now;
        if (now.rss > r.peak.rss) r.peak = now;
      }
    };

    const admin = {
      authorization: `Bearer ${secrets.ADMIN_TOKEN}`,
      "content-type": "application/json",
    };
    const stock = Math.ceil(users / eventCount / 2);
    const events = Array.from({ length: eventCount }, (_, i) => `soak-${i}-${Date.now()}`);
    for (const id of events) {
      const res = await pool.request({
        method: "POST",
        path: "/v1/events",
        headers: admin,
        body: JSON.stringify({
          id,
          name: "soak",
          totalStock: stock,
          startsAt: new Date(Date.now() - 1000).toISOString(),
        }),
      });
      await res.body.dump();
      if (res.statusCode !== 201) throw new Error(`create ${id}: ${res.statusCode}`);
    }
    await sample("start");
    console.error(`events created; ${users} users claim and read…`);

    const answers = new Map<string, number>();
    const count = (what: string) => answers.set(what, (answers.get(what) ?? 0) + 1);
    const iat = Math.floor(Date.now() / 1000);
    let next = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
        await sample("peak");
      }
    })();
    const t0 = Date.now();
    let lastReport = t0;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        for (let u = next++; u < users; u = next++) {
          const token = await sign(
            { sub: `soak-user-${u}`, iat, exp: iat + 3600 },
            secrets.JWT_SECRET,
            "HS256",
          );
          const headers = {
            authorization: `Bearer ${token}`,
            "cf-connecting-ip": `10.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`,
          };
          const event = events[u % eventCount] as string;
          for (const [method, path] of [
            ["POST", `/v1/events/${event}/claims`],
            ["GET", `/v1/events/${event}/claims/me`],
            ["GET", `/v1/events/${event}`],
          ] as const) {
            const res = await pool.request({ method, path, headers });
            await res.body.dump();
            count(
              `${method === "POST" ? "claim" : path.endsWith("/me") ? "claims/me" : "event"} ${res.statusCode}`,
            );
          }
          if (Date.now() - lastReport > 10_000) {
            lastReport = Date.now();
            console.error(`… ${u} users in ${((lastReport - t0) / 1000).toFixed(0)} s`);
          }
        }
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    running = false;
    await sampler;
    await sample("peak");
    // Idle for a while (timers, tallies and caches settle), then the end; then what is retained:
    // a heap snapshot starts with a full GC (workerd's inspector does not answer collectGarbage).
    await new Promise((r) => setTimeout(r, 5_000));
    await sample("end");
    for (const { s } of sessions)
      await s.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    await sample("retained");
    console.error("sampled the end");

    // Printed, and kept in BENCHMARKS.md's "Soak" section (a bench run keeps that section).
    const lines: string[] = [];
    const say = (line: string) => {
      console.log(line);
      lines.push(line);
    };
    say(
      `\n${users} users (${users * 3} requests) over ${eventCount} events of ${stock} coupons, ${connections} connections: ${seconds.toFixed(1)} s (${Math.round((users * 3) / seconds)} requests/s)`,
    );
    say(
      [...answers]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(", "),
    );
    say(
      "\nJS heap used / allocated, MB    start          peak           end            retained (after a full GC)",
    );
    for (const [title, f] of figures) {
      const cell = (h: Heap) => `${mb(h.used)} /${mb(h.total)}`;
      say(
        `${title.padEnd(30)} ${cell(f.start)} ${cell(f.peak)} ${cell(f.end)} ${cell(f.retained)}`,
      );
    }
    say(
      "\nprocess RSS (anonymous + file-backed), MB   start                 peak                  end",
    );
    for (const [name, r] of rss) {
      const cell = (x: { rss: number; anon: number; file: number }) =>
        `${mb(x.rss)} (${mb(x.anon)} +${mb(x.file)})`;
      say(`${name.padEnd(30)} ${cell(r.start)} ${cell(r.peak)} ${cell(r.end)}`);
    }
    writeSection(
      BENCHMARKS_FILE,
      "Soak",
      `\`npm run soak -- --users ${users}\` (scripts/soak.ts) on ${new Date().toISOString().slice(0, 10)}, FRONTS=${worker.fronts}, ${cpus} cores, load average ${(loadavg()[0] ?? 0).toFixed(2)} at the end. Each user has a token and an address of its own, claims once on one of the events (stock for half of them), then reads its coupon and the event. JS heap per isolate from workerd's inspector (\`Runtime.getHeapUsage\`); "retained" after the full GC a heap snapshot starts with; resident memory per workerd process from /proc.\n\n\`\`\`\n${lines.join("\n").trim()}\n\`\`\``,
    );
    for (const { s } of sessions) s.close();
  } finally {
    await pool.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
