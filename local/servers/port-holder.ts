import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A process listening on a TCP port. `command` is its command line, shortened. */
export interface PortHolder {
  pid: number;
  command: string;
}

/**
 * Who listens on `port`: the LISTEN sockets in /proc/net/tcp{,6}, matched by inode against every
 * readable /proc/<pid>/fd (only this user's processes are readable), then `ss -ltnp` for the rest.
 * Empty when nobody can be named (another user's process without `ss`, or not Linux).
 */
export function portHolders(port: number): PortHolder[] {
  const inodes = listeningInodes(port);
  const found = new Map<number, string>();
  if (inodes.size > 0) {
    let entries: string[] = [];
    try {
      entries = readdirSync("/proc");
    } catch {
      // not Linux
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        for (const fd of readdirSync(`/proc/${entry}/fd`)) {
          const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
          const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
          if (inode && inodes.has(inode)) {
            found.set(Number(entry), commandOf(Number(entry)));
            break;
          }
        }
      } catch {
        // gone, or another user's
      }
    }
  }
  if (found.size === 0) for (const h of fromSs(port)) found.set(h.pid, h.command);
  return [...found].map(([pid, command]) => ({ pid, command }));
}

/** The sentence that replaces a bare EADDRINUSE: who holds the port, and what to do. */
export function portInUseAdvice(port: number): string {
  const holders = portHolders(port);
  if (holders.length === 0) {
    return `held by a process this user cannot see (try: ss -ltnp 'sport = :${port}'); stop it or choose another PORT`;
  }
  const named = holders.map((h) => `pid ${h.pid} (${h.command})`).join(", ");
  const pids = holders.map((h) => h.pid).join(" ");
  return `held by ${named}; stop it (kill ${pids}) if it is a stack left running, or choose another PORT`;
}

/** Inodes of LISTEN (state 0A) sockets on `port`, IPv4 and IPv6. */
function listeningInodes(port: number): Set<string> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length > 9 && f[1]?.endsWith(hex) && f[3] === "0A" && f[9] !== "0") {
        inodes.add(f[9] as string);
      }
    }
  }
  return inodes;
}

function commandOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    return cmd.length > 120 ? `${cmd.slice(0, 117)}…` : cmd || "?";
  } catch {
    return "?";
  }
}

/** `ss -ltnp` names processes /proc does not show this user (when run with the rights to). */
function fromSs(port: number): PortHolder[] {
  let out = "";
  try {
    out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2_000,
    });
  } catch {
    return [];
  }
  const holders: PortHolder[] = [];
  for (const m of out.matchAll(/\("([^"]*)",pid=(\d+)/g)) {
    holders.push({ pid: Number(m[2]), command: m[1] ?? "?" });
  }
  return holders;
}
