/**
 * Local settings: the environment, then `.dev.vars` (the file `wrangler dev` reads too). There
 * is no third source: the example file documents names, it never supplies values. When there is
 * no `.dev.vars`, `npm start` and `npm run token` write one with fresh random secrets.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** Parses a `.dev.vars` file (KEY=VALUE lines, `#` comments, optional quotes). */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1] || line.trimStart().startsWith("#")) continue;
    vars[match[1]] = (match[2] ?? "").replace(/^(["'])(.*)\1$/, "$2");
  }
  return vars;
}

/** The `.dev.vars` of this checkout; `COUPON_DEV_VARS` names another (the process tests do). */
export function devVarsFile(root: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.COUPON_DEV_VARS || join(root, ".dev.vars");
}

/** A secret of `bytes` random bytes, base64url (4 characters per 3 bytes). */
const randomSecret = (bytes: number) => randomBytes(bytes).toString("base64url");

/** What a new `.dev.vars` holds: a 48-character JWT_SECRET and a 43-character ADMIN_TOKEN. */
export function newDevVars(): string {
  return `# Written by \`npm start\` / \`npm run token\` with random secrets for this machine only.
# Never commit it (it is git-ignored). Environment variables of the same name win over it.
# Other settings: see .dev.vars.example. Delete this file to get new secrets.

# HS256 secret that signs user JWTs. \`npm run token -- <userId>\` mints one.
JWT_SECRET=${randomSecret(36)}
# Bearer token for operator endpoints. \`npm run token -- --admin\` prints it.
ADMIN_TOKEN=${randomSecret(32)}
`;
}

/**
 * Writes a new `.dev.vars` with random secrets (mode 0600) unless the file exists; returns
 * whether it wrote one. Never overwrites: `wx` fails if another process created it meanwhile.
 */
export function ensureDevVars(file: string): boolean {
  if (existsSync(file)) return false;
  try {
    writeFileSync(file, newDevVars(), { mode: 0o600, flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** A line to print when `.dev.vars` was just written, or when others can read it. */
export function devVarsNotice(file: string, created: boolean, cwd = process.cwd()): string | null {
  const rel = relative(cwd, file);
  const shown = rel === "" || rel.startsWith("..") ? file : rel;
  if (created) {
    return `wrote ${shown} with a new random JWT_SECRET and ADMIN_TOKEN (mode 0600); \`npm run token\` reads them`;
  }
  if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) {
    return `warning: ${shown} holds secrets and others can read it (chmod 600 ${shown})`;
  }
  return null;
}

/**
 * The values of `names` that are set: the environment wins, then `.dev.vars`. An empty
 * environment variable counts as set (it overrides the file; the config reads it as unset).
 */
export function localSettings(
  file: string,
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const fromFile = existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : {};
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = env[name] ?? fromFile[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
