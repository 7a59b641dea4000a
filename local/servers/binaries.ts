/**
 * Finds the server binaries the local cloud runs: `mariadbd`, `mariadb-install-db` (or the older
 * `mysql_install_db`) and `redis-server`. When one is missing and we run as root on Debian, the
 * Debian packages are installed with apt; otherwise the error names the exact command to run.
 * Only the binaries are used: a MariaDB or Redis that the machine itself runs is never touched.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface Binaries {
  mariadbd: string;
  mariadbInstallDb: string;
  redisServer: string;
}

type Name = keyof Binaries;

const CANDIDATES: Record<Name, { names: string[]; aptPackage: string }> = {
  mariadbd: { names: ["mariadbd", "mysqld"], aptPackage: "mariadb-server" },
  mariadbInstallDb: {
    names: ["mariadb-install-db", "mysql_install_db"],
    aptPackage: "mariadb-server",
  },
  redisServer: { names: ["redis-server"], aptPackage: "redis-server" },
};

/** The thrown error when binaries are missing and cannot be installed here. */
export class MissingBinariesError extends Error {
  /** The exact command that installs what is missing. */
  readonly command: string;
  constructor(missing: string[], command: string) {
    super(`missing ${missing.join(", ")}; install with:\n  ${command}`);
    this.name = "MissingBinariesError";
    this.command = command;
  }
}

function searchDirs(): string[] {
  const fromPath = (process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0);
  return [...new Set([...fromPath, "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"])];
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks the binaries up on PATH plus /usr/sbin and /usr/bin; missing ones are undefined. */
export function findBinaries(): Partial<Binaries> {
  const dirs = searchDirs();
  const found: Partial<Binaries> = {};
  for (const [key, { names }] of Object.entries(CANDIDATES) as [
    Name,
    (typeof CANDIDATES)[Name],
  ][]) {
    // Prefer the first name (mariadbd over mysqld) anywhere before falling back to the next.
    for (const name of names) {
      const hit = dirs.map((d) => join(d, name)).find(executable);
      if (hit) {
        found[key] = hit;
        break;
      }
    }
  }
  return found;
}

function missingOf(found: Partial<Binaries>): Name[] {
  return (Object.keys(CANDIDATES) as Name[]).filter((k) => found[k] === undefined);
}

function isDebian(): boolean {
  return existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get");
}

function installCommand(packages: string[]): string {
  if (isDebian()) return `sudo apt-get install -y ${packages.join(" ")}`;
  if (process.platform === "darwin") return "brew install mariadb redis";
  return `install MariaDB (mariadbd, mariadb-install-db) and Redis (redis-server) with your system's package manager, e.g. the packages ${packages.join(" ")}`;
}

function apt(args: string[]): boolean {
  const result = spawnSync("apt-get", args, {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  return result.status === 0;
}

let cached: Binaries | undefined;

/**
 * The binaries, installing the Debian packages when missing and running as root on Debian.
 * Throws MissingBinariesError (message: the command to run) when they cannot be had here.
 */
export function ensureBinaries(): Binaries {
  if (cached) return cached;
  let found = findBinaries();
  let missing = missingOf(found);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((m) => CANDIDATES[m].aptPackage))];
    const names = missing.map((m) => CANDIDATES[m].names[0] as string);
    if (!isDebian() || process.getuid?.() !== 0) {
      throw new MissingBinariesError(names, installCommand(packages));
    }
    console.error(
      `local cloud: ${names.join(", ")} missing; installing ${packages.join(" ")} with apt-get`,
    );
    const args = ["install", "-y", "-q", "--no-install-recommends", ...packages];
    // A fresh machine may have no package lists yet: update once, then try again.
    if (!apt(args) && !(apt(["update", "-q"]) && apt(args))) {
      throw new MissingBinariesError(names, `apt-get install -y ${packages.join(" ")}`);
    }
    found = findBinaries();
    missing = missingOf(found);
    if (missing.length > 0) {
      throw new MissingBinariesError(
        missing.map((m) => CANDIDATES[m].names[0] as string),
        installCommand(packages),
      );
    }
  }
  cached = found as Binaries;
  return cached;
}
