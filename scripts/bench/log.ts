/** The benchmark's progress lines (stderr, seconds since start); stdout carries the report. */
const T0 = performance.now();

export const log = (msg: string) =>
  console.error(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${msg}`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
