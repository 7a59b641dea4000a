import type { ChildProcess } from "node:child_process";
import { isPortFree, waitFor } from "../../local/servers/process.ts";

/** A stack process a test started: its output so far, and its exit. */
export interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Collects the child's stdout and stderr, so a test can wait for a line or quote the output. */
export function watched(child: ChildProcess): Run {
  let text = "";
  const collect = (d: unknown) => {
    text += String(d);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return { child, output: () => text, exited };
}

/** A PORT whose PORT..PORT+7 (every port a stack takes) are free now, from `from` up. */
export async function freeRange(from: number): Promise<number> {
  for (let base = from; base < from + 2_000; base += 10) {
    let free = true;
    for (let p = base; p <= base + 7 && free; p++) free = await isPortFree(p);
    if (free) return base;
  }
  throw new Error("no free port range");
}

/** Waits until the stack says it serves (its "coupon service" line), quoting its output if not. */
export async function untilServing(run: Run): Promise<void> {
  await waitFor("the stack to serve", async () => /coupon service/.test(run.output()), {
    timeoutMs: 150_000,
    intervalMs: 200,
    describe: run.output,
  });
}

/** SIGTERM to every child still running, then waits for each to exit. */
export async function stopAll(children: ChildProcess[]): Promise<void> {
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  for (const child of children) if (running(child)) child.kill("SIGTERM");
  await Promise.all(
    children.map((c) => (running(c) ? new Promise((done) => c.once("exit", done)) : null)),
  );
}
