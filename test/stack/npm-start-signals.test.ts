/**
 * Issue 22 item 2: SIGTERM to `npm start`'s own pid stops the whole stack (the script `exec`s
 * into node, and npm passes SIGTERM on), and a port held by someone else is reported with who
 * holds it instead of a bare EADDRINUSE. State lives in a temporary folder (COUPON_LOCAL_STATE).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive, waitFor } from "../../local/servers/process.ts";
import { serversUnder } from "./servers-under.ts";
import { freeRange, watched } from "./stack-run.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
let state: string;
const started: ChildProcess[] = [];
const stragglers: number[] = [];

function run(cmd: string, args: string[], port: number) {
  const child = spawn(cmd, args, {
    cwd: REPO,
    env: {
      ...process.env,
      // npm's own script shell finds Node 24 first, as `npm start` from a shell in the repo does.
      PATH: `${join(REPO, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
      PORT: String(port),
      FRONTS: "1",
      COUPON_LOCAL_STATE: state,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  return watched(child);
}

beforeAll(() => {
  state = mkdtempSync(join(tmpdir(), "coupons-npm-start-"));
});

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const pid of [...stragglers, ...serversUnder(state)]) {
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(state, { recursive: true, force: true });
});

describe("npm start and signals", () => {
  it("SIGTERM to npm's pid stops node, workerd, mariadbd and redis-server", async () => {
    const port = await freeRange(23_000 + Math.floor(Math.random() * 1_500) * 10);
    const npm = run("npm", ["start", "--silent"], port);
    await waitFor("the stack to serve", async () => /coupon service/.test(npm.output()), {
      timeoutMs: 150_000,
      intervalMs: 200,
      describe: npm.output,
    });
    const folder = join(state, `start-${port}`);
    const stackPid = (
      JSON.parse(readFileSync(join(folder, "stack.lock"), "utf8")) as { pid: number }
    ).pid;
    const workerdLine = npm.output().match(/^workerd .*$/m)?.[0] ?? "";
    const workerds = [...workerdLine.matchAll(/\d{2,}/g)].map((m) => Number(m[0]));
    const servers = serversUnder(folder);
    const all = [stackPid, ...workerds, ...servers];
    stragglers.push(...all);
    // node ≠ npm: the stack runs in a process of its own, under npm's.
    expect(stackPid).not.toBe(npm.child.pid);
    expect(workerds.length).toBe(2);
    expect(servers.length).toBe(2);

    npm.child.kill("SIGTERM");
    await npm.exited;
    await waitFor("every process of the stack to exit", async () => all.every((p) => !isAlive(p)), {
      timeoutMs: 20_000,
      intervalMs: 100,
      describe: () => `still alive: ${all.filter(isAlive).join(", ")}\n${npm.output()}`,
    });
    expect(serversUnder(state)).toEqual([]);
  }, 200_000);

  it("a port in use names its holder (this test's pid) and what to do", async () => {
    const port = await freeRange(26_000 + Math.floor(Math.random() * 1_500) * 10);
    const holder: Server = createServer();
    await new Promise<void>((done) => holder.listen(port + 2, "127.0.0.1", done));
    try {
      const stack = run(process.execPath, ["local/stack.ts"], port);
      expect(await stack.exited).toBe(1);
      const out = stack.output();
      expect(out).toContain(`port ${port + 2} (PORT+2) on 127.0.0.1 is in use`);
      expect(out).toContain(`pid ${process.pid} (`);
      expect(out).toContain("choose another PORT");
      expect(out).not.toContain("EADDRINUSE");
    } finally {
      await new Promise((done) => holder.close(done));
    }
  }, 60_000);
});
