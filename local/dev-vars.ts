import { existsSync, readFileSync } from "node:fs";

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

/**
 * Secrets for local runs: the environment wins, then `.dev.vars`, then the documented
 * defaults of `.dev.vars.example` (so a fresh clone starts with no setup).
 */
export function localSecrets(root: string, names: readonly string[]): Record<string, string> {
  const fromFile = (file: string) =>
    existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : {};
  const example = fromFile(`${root}/.dev.vars.example`);
  const devVars = fromFile(`${root}/.dev.vars`);
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = process.env[name] ?? devVars[name] ?? example[name];
    if (value === undefined)
      throw new Error(`${name} is not set (environment, .dev.vars or .dev.vars.example)`);
    out[name] = value;
  }
  return out;
}
