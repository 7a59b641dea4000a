/**
 * Issue 21 item 15: two `npm start` in one checkout. A second start on another PORT runs beside
 * the first with its own data folder; a start on a PORT whose folder a live stack holds refuses,
 * naming it. Neither ever stops the other's servers. Runs `node local/stack.ts` as `npm start`
 * does, with its state in a temporary folder (COUPON_LOCAL_STATE) and one front each.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serversUnder } from "./servers-under.ts";
import { freeRange, type Run, stopAll, untilServing, watched } from "./stack-run.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
let state: string;
const started: ChildProcess[] = [];

function startStack(port: number): Run {
  const child = spawn(process.execPath, ["local/stack.ts"], {
    cwd: REPO,
    env: { ...process.env, PORT: String(port), FRONTS: "1", COUPON_LOCAL_STATE: state },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  return watched(child);
}

async function serving(run: Run): Promise<void> {
  await untilServing(run);
  expect(run.child.exitCode).toBeNull();
}

const health = async (port: number) => (await fetch(`http://127.0.0.1:${port}/health`)).status;

beforeAll(() => {
  state = mkdtempSync(join(tmpdir(), "coupons-two-stacks-"));
});

afterAll(async () => {
  await stopAll(started);
  for (const pid of serversUnder(state)) process.kill(pid, "SIGKILL");
  rmSync(state, { recursive: true, force: true });
});

describe("two npm start in one checkout", () => {
  it("a second PORT runs beside the first in its own folder; a start on a held folder refuses naming it; nobody's servers are stopped", async () => {
    const portA = await freeRange(21_000 + Math.floor(Math.random() * 2_000) * 10);
    const a = startStack(portA);
    await serving(a);
    const folderA = join(state, `start-${portA}`);
    const serversA = serversUnder(folderA);
    expect(serversA.length).toBe(2);
    expect(await health(portA)).toBe(200);

    const portB = await freeRange(portA + 10);
    const b = startStack(portB);
    await serving(b);
    const folderB = join(state, `start-${portB}`);
    expect(serversUnder(folderB).length).toBe(2);
    expect(existsSync(join(state, `stack-${portA}.json`))).toBe(true);
    expect(existsSync(join(state, `stack-${portB}.json`))).toBe(true);

    // The same PORT again: refused before touching anything, naming the running stack.
    const again = startStack(portA);
    expect(await again.exited).toBe(1);
    expect(again.output()).toContain(`another npm start (pid ${a.child.pid}`);
    expect(again.output()).toContain(`http://127.0.0.1:${portA}`);
    // A PORT inside A's range (its folder is free, its ports are not): refused, naming A.
    const overlap = startStack(portA + 3);
    expect(await overlap.exited).toBe(1);
    expect(overlap.output()).toContain(`pid ${a.child.pid} on PORT ${portA}`);

    // Both still answer, with the very same server processes.
    expect(await health(portA)).toBe(200);
    expect(await health(portB)).toBe(200);
    expect(serversUnder(folderA)).toEqual(serversA);
    expect(existsSync(join(folderA, "stack.lock"))).toBe(true);

    // Stopping B leaves A alone, and removes only B's stack file.
    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    expect(serversUnder(folderB)).toEqual([]);
    expect(existsSync(join(state, `stack-${portB}.json`))).toBe(false);
    expect(existsSync(join(state, `stack-${portA}.json`))).toBe(true);
    expect(serversUnder(folderA)).toEqual(serversA);
    expect(await health(portA)).toBe(200);

    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(serversUnder(folderA)).toEqual([]);
    expect(existsSync(join(folderA, "stack.lock"))).toBe(false);
  }, 400_000);
});
