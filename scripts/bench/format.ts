/** How the report writes figures. */
export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmtMs = (n: number) =>
  n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 1 : 0)} ms`;

export function fmtStatuses(st: Record<string, number>): string {
  return Object.entries(st)
    .map(([k, v]) => `${k}: ${fmtInt(v)}`)
    .join(", ");
}

/** Per-process CPU; older result files (one process, no split figures) show a dash. */
