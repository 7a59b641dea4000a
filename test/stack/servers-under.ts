import { readdirSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { isAlive } from "../../local/servers/process.ts";

/**
 * Every live mariadbd / redis-server process whose working directory lies under `dir` (on Debian
 * redis-server is a link to redis-check-rdb, the name /proc shows): what a stack left running.
 */
export function serversUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = basename(readlinkSync(`/proc/${entry}/exe`));
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (
        /^(mariadbd|mysqld|redis-server|redis-check-rdb)$/.test(exe) &&
        cwd.startsWith(dir) &&
        isAlive(+entry)
      ) {
        found.push(Number(entry));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
