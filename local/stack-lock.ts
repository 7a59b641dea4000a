/**
 * Which `npm start` owns a data folder. Each PORT has a folder of its own (local/stack.ts), and
 * the stack that runs in it holds `stack.lock` (its pid, PORT and URL) from before it touches
 * anything there until it stops. A second start on the same folder refuses, naming the first; a
 * lock whose process is gone (a SIGKILLed stack) is taken over, and only then are that folder's
 * orphaned servers stopped. So a start never stops another live stack's servers.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./servers/process.ts";

export interface StackOwner {
  pid: number;
  port: number;
  url: string;
  startedAt: string;
}

const LOCK = "stack.lock";

export class StackInUse extends Error {}

/** Takes `dir`'s lock for this process, or throws `StackInUse` naming the live owner. */
export function lockStackDir(
  dir: string,
  owner: Omit<StackOwner, "pid" | "startedAt">,
): () => void {
  const path = join(dir, LOCK);
  const mine: StackOwner = { pid: process.pid, startedAt: new Date().toISOString(), ...owner };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: "wx", mode: 0o600 });
      return () => {
        if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const other = readOwner(path);
    if (other && isStack(other.pid)) {
      throw new StackInUse(
        `another npm start (pid ${other.pid}, ${other.url}, since ${other.startedAt}) is using ${dir}: ` +
          "stop it first, or start this one on another PORT (its own folder).",
      );
    }
    rmSync(path, { force: true }); // its stack is gone: the folder is free
  }
  throw new StackInUse(`could not lock ${dir}: another start is taking it right now`);
}

/** The live stacks under `state` (one per folder holding a live lock), for messages. */
export function liveStacks(state: string): StackOwner[] {
  let names: string[];
  try {
    names = readdirSync(state);
  } catch {
    return [];
  }
  return names
    .filter((name) => name === "start" || name.startsWith("start-"))
    .map((name) => readOwner(join(state, name, LOCK)))
    .filter((o): o is StackOwner => o !== undefined && isStack(o.pid));
}

function readOwner(path: string): StackOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, "utf8")) as Partial<StackOwner>;
    return typeof o.pid === "number" && typeof o.port === "number"
      ? { pid: o.pid, port: o.port, url: String(o.url), startedAt: String(o.startedAt) }
      : undefined;
  } catch {
    return undefined;
  }
}

/** A live process running local/stack.ts (a reused pid is someone else's, not a stack). */
function isStack(pid: number): boolean {
  if (pid === process.pid || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .some((a) => a.endsWith("stack.ts"));
  } catch {
    return true; // no /proc: trust the live pid
  }
}
