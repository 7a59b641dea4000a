import type { ChildProcess } from "node:child_process";
import { isPortFree } from "../../local/servers/process.ts";

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
