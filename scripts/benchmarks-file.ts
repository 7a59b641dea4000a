import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** BENCHMARKS.md: `npm run bench` writes it whole, keeping the sections other scripts wrote. */
export const BENCHMARKS_FILE = join(resolve(import.meta.dirname, ".."), "BENCHMARKS.md");

const sectionPattern = (title: string) =>
  new RegExp(`\\n## ${title}\\n\\n([\\s\\S]*?)\\s*(?=\\n## |$)`);

/** The body of `## <title>` in the file, or undefined. */
export function sectionOf(path: string | undefined, title: string): string | undefined {
  if (path === undefined || !existsSync(path)) return undefined;
  return sectionPattern(title).exec(readFileSync(path, "utf8"))?.[1];
}

/** Replaces the body of `## <title>` in the file (appending the section when it has none). */
export function writeSection(path: string, title: string, body: string): void {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  const section = `\n## ${title}\n\n${body.trim()}\n`;
  const pattern = sectionPattern(title);
  const next = pattern.test(text)
    ? text.replace(pattern, () => section.trimEnd())
    : `${text.trimEnd()}\n${section}`;
  writeFileSync(path, next.endsWith("\n") ? next : `${next}\n`);
}
