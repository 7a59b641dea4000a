import type { ChildProcess } from "node:child_process";

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
