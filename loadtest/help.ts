/**
 * `--help` prints the entry file's opening doc comment as plain text: the comment's delimiters
 * and its ` * ` line prefixes removed, the indentation of option columns kept.
 */
export function helpText(source: string): string {
  const comment = /^\/\*\*([\s\S]*?)\*\//.exec(source.trimStart())?.[1] ?? "";
  return comment
    .split("\n")
    .map((line) => line.replace(/^\s*\* ?/, "").trimEnd())
    .join("\n")
    .trim();
}
