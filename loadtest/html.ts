/**
 * `report.html`: one self-contained page (Chart.js and the drawing script inlined, the data as
 * JSON), so it opens from disk or a CI artifact with no network. This run and the previous run of
 * the same scenario side by side, on the same scales.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Check } from "./checks.ts";
import { headline, type Latency, type Report } from "./report.ts";
import { roomRows } from "./room-report.ts";
import { ROOT } from "./target.ts";

const CHART_IDS = ["latency", "answers", "in-flight", "stock", "drain"] as const;
export const CHARTS_PER_RUN = CHART_IDS.length;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (n: number | null | undefined) =>
  n === null || n === undefined ? "—" : Math.round(n).toLocaleString("en-US");
const ms = (n: number | null | undefined) =>
  n === null || n === undefined
    ? "—"
    : n >= 1000
      ? `${(n / 1000).toFixed(2)} s`
      : `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const lat = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} / ${ms(l.max)}`;

/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

function verdict(c: Check | undefined): string {
  if (!c) return "<td></td>";
  return `<td class="${c.verdict}">${c.verdict}</td>`;
}

function checksTable(title: string, now: Check[], prev: Check[] | undefined): string {
  if (now.length === 0) return "";
  const rows = now
    .map((c) => {
      const p = prev?.find((x) => x.name === c.name);
      return `<tr><td>${esc(c.name)}</td>${verdict(c)}<td>${esc(c.detail)}</td>${prev ? `${verdict(p)}<td class="dim">${esc(p?.detail ?? "")}</td>` : ""}</tr>`;
    })
    .join("\n");
  const head = prev
    ? "<tr><th></th><th colspan=2>this run</th><th colspan=2>previous run</th></tr>"
    : "<tr><th></th><th colspan=2>this run</th></tr>";
  return `<h2>${esc(title)}</h2><table class="checks">${head}${rows}</table>`;
}

function summaryRows(r: Report): [string, string][] {
  const s = r.summary;
  const m = r.machine;
  return [
    ["date", r.meta.date.replace("T", " ").slice(0, 19)],
    ["commit", r.meta.commit],
    ["target", r.meta.target],
    [
      "users / stock",
      `${fmt(r.config.users)} / ${fmt(r.config.stock)}${r.config.timeScale !== 1 ? ` (time x${r.config.timeScale})` : ""}`,
    ],
    ["issued", fmt(r.event.issued)],
    ["requests", `${fmt(s.requests)} in ${s.loadSeconds} s (${fmt(s.requestsPerSec)}/s)`],
    ["claim p50 / p95 / p99 / max", lat(s.latency.claim)],
    ["claim from the click, p50 / p95 / p99 / max", lat(s.claimFromClick)],
    ["event read p50 / p95 / p99 / max", lat(s.latency.event)],
    ["5xx · network errors · 429/503 shed", `${fmt(s.fiveXx)} · ${fmt(s.errors)} · ${fmt(s.shed)}`],
    ["outbox empty after the last coupon", ms(s.drainMs)],
    ["MySQL rows · Kafka records", `${fmt(s.mysqlRows)} · ${fmt(s.kafkaRecords)}`],
    ["load average at start (1/5/15 min)", m.loadAvgStart.map((x) => x.toFixed(2)).join(" / ")],
    [
      "workerd CPU per request",
      m.workerdUsPerRequest === undefined ? "—" : `${fmt(m.workerdUsPerRequest)} µs`,
    ],
    [
      "load generator CPU · event-loop delay p99",
      `${fmt((100 * m.loadGeneratorCpuMs) / Math.max(1, m.wallMs))}% · ${ms(m.eventLoopDelayMs.p99)}`,
    ],
    ["other processes' CPU", m.otherCpuPct === undefined ? "—" : `${m.otherCpuPct}% of a core`],
    ...(r.room ? roomRows(r.room) : []),
  ];
}

function summaryTable(now: Report, prev: Report | undefined): string {
  const a = summaryRows(now);
  const b = prev ? summaryRows(prev) : undefined;
  const rows = a
    .map(
      ([k, v], i) =>
        `<tr><th>${esc(k)}</th><td>${esc(v)}</td>${b ? `<td class="dim">${esc(b[i]?.[1] ?? "")}</td>` : ""}</tr>`,
    )
    .join("\n");
  return `<table class="summary"><tr><th></th><th>this run</th>${prev ? "<th>previous run</th>" : ""}</tr>${rows}</table>`;
}

function answersTable(now: Report, prev: Report | undefined): string {
  const keys = [
    ...new Set([...Object.keys(now.summary.answers), ...Object.keys(prev?.summary.answers ?? {})]),
  ].sort();
  const rows = keys
    .map(
      (k) =>
        `<tr><td>${esc(k)}</td><td>${fmt(now.summary.answers[k] ?? 0)}</td>${prev ? `<td class="dim">${fmt(prev.summary.answers[k] ?? 0)}</td>` : ""}</tr>`,
    )
    .join("\n");
  return `<table class="answers"><tr><th>answer</th><th>this run</th>${prev ? "<th>previous run</th>" : ""}</tr>${rows}</table>`;
}

const CSS = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #212121; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 6px; }
.verdict-pass { color: #1b5e20; } .verdict-warn { color: #8a5300; } .verdict-fail { color: #b71c1c; }
.dim { color: #616161; } p.desc { margin: 2px 0 10px; max-width: 1200px; }
table { border-collapse: collapse; margin: 4px 0; } th, td { padding: 2px 8px; text-align: left; vertical-align: top; border-bottom: 1px solid #eee; }
td.pass { color: #1b5e20; font-weight: 600; } td.fail { color: #b71c1c; font-weight: 600; } td.skipped { color: #757575; }
.top { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
.row { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-bottom: 8px; }
.box { border: 1px solid #e0e0e0; border-radius: 4px; padding: 4px 8px; }
.box h3 { font-size: 12px; margin: 0 0 2px; color: #424242; font-weight: 600; }
.chart { position: relative; height: 260px; }
.none { height: 260px; display: flex; align-items: center; justify-content: center; color: #757575; }
`;

/** The whole page. `previous` is the newest earlier run of the same scenario, if any. */
export function renderHtml(now: Report, previous: Report | undefined): string {
  const chartJs = readFileSync(
    join(ROOT, "node_modules", "chart.js", "dist", "chart.umd.min.js"),
    "utf8",
  );
  const page = readFileSync(join(import.meta.dirname, "report-page.js"), "utf8");
  const prevLabel = previous
    ? `previous run: ${previous.meta.date.replace("T", " ").slice(0, 19)} (${esc(previous.meta.commit)})`
    : "";
  const charts = CHART_IDS.map(
    (id) => `<h2 id="title-${id}"></h2><div class="row">
<div class="box"><h3>this run</h3><div class="chart"><canvas id="now-${id}"></canvas></div></div>
<div class="box"><h3>${previous ? esc(prevLabel) : "previous run"}</h3>${
      previous
        ? `<div class="chart"><canvas id="prev-${id}"></canvas></div>`
        : `<div class="none">no earlier run of ${esc(now.scenario)} in this reports folder</div>`
    }</div></div>`,
  ).join("\n");
  const verdictLine = headline(now);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test ${esc(now.scenario)}: ${esc(verdictLine.text)}</title>
<style>${CSS}</style></head>
<body>
<h1>Load test <code>${esc(now.scenario)}</code>: <span class="verdict-${verdictLine.tone}">${esc(verdictLine.text)}</span></h1>
<p class="desc">${esc(now.description)}. Event <code>${esc(now.event.id)}</code>, startsAt ${esc(now.event.startsAt)}; ${esc(now.meta.machine)}, ${now.meta.cores} cores; Node ${esc(now.meta.node)}${now.meta.workerd ? `, workerd ${esc(now.meta.workerd)}` : ""}. Latencies run from the moment a request is written to a connection to its full answer.</p>
<div class="top">
<div>${summaryTable(now, previous)}</div>
<div><h2 style="margin-top:0">Answers</h2>${answersTable(now, previous)}</div>
</div>
${checksTable("Invariants", now.invariants, previous?.invariants)}
${checksTable("Targets", now.targets, previous?.targets)}
${charts}
<script type="application/json" id="report-data">${scriptJson({ now, previous: previous ?? null })}</script>
<script>${chartJs.replace(/<\/script/gi, "<\\/script")}</script>
<script>${page}</script>
</body></html>
`;
}
