/**
 * The run's summary for a chat: a Slack-compatible incoming-webhook message (`text` plus Block
 * Kit `blocks`; Mattermost and others read `text`), posted when REPORT_WEBHOOK_URL is set.
 */
import { type Report, headline as verdictOf } from "./report.ts";

const ms = (n: number | null) =>
  n === null ? "—" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`;
const fmt = (n: number | null) => (n === null ? "—" : n.toLocaleString("en-US"));

export interface SlackMessage {
  text: string;
  blocks: (
    | { type: "header"; text: { type: "plain_text"; text: string } }
    | { type: "section"; text: { type: "mrkdwn"; text: string } }
    | { type: "context"; elements: { type: "mrkdwn"; text: string }[] }
  )[];
}

export function slackMessage(r: Report, previous: Report | undefined, where: string): SlackMessage {
  const s = r.summary;
  const verdict = verdictOf(r).text;
  const was = (f: (x: Report) => number | null, show: (n: number | null) => string) =>
    previous ? ` (previous ${show(f(previous))})` : "";
  const headline = `Load test ${r.scenario}: ${verdict}`;
  const figures = [
    `${fmt(r.config.users)} users, ${fmt(r.config.stock)} coupons, issued ${fmt(r.event.issued)}`,
    `claim p95 ${ms(s.latency.claim.p95)}${was((x) => x.summary.latency.claim.p95, ms)}, p99 ${ms(s.latency.claim.p99)}${was((x) => x.summary.latency.claim.p99, ms)}`,
    `5xx ${fmt(s.fiveXx)}, network errors ${fmt(s.errors)}, 429/503 ${fmt(s.shed)}`,
    `outbox empty ${ms(s.drainMs)} after the last coupon${was((x) => x.summary.drainMs, ms)}`,
  ];
  const broken = r.invariants.filter((c) => c.verdict === "fail");
  const missed = r.targets.filter((c) => c.verdict === "fail");
  const list = (cs: typeof broken) => cs.map((c) => `• ${c.name}: ${c.detail}`).join("\n");
  const checks = [
    broken.length
      ? `*Invariants broken:*\n${list(broken)}`
      : `All ${r.invariants.filter((c) => c.verdict === "pass").length} invariants hold.`,
    ...(r.targets.length
      ? [
          missed.length
            ? `*Targets missed* (${r.targets.length - missed.length}/${r.targets.length} met):\n${list(missed)}`
            : `All ${r.targets.length} targets met.`,
        ]
      : []),
  ].join("\n");
  const context = `${r.meta.target} · commit ${r.meta.commit} · load average ${r.machine.loadAvgStart[0].toFixed(2)} · ${where}`;
  return {
    text: `${headline}\n${figures.join("\n")}\n${checks}\n${context}`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: headline } },
      { type: "section", text: { type: "mrkdwn", text: figures.map((f) => `• ${f}`).join("\n") } },
      { type: "section", text: { type: "mrkdwn", text: checks } },
      { type: "context", elements: [{ type: "mrkdwn", text: context }] },
    ],
  };
}

/** Posts the message; a failure is returned as text, never thrown (the run's verdict stands). */
export async function postWebhook(url: string, message: SlackMessage): Promise<string | undefined> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.ok ? undefined : `the webhook answered ${res.status}`;
  } catch (err) {
    return `posting to the webhook: ${err instanceof Error ? err.message : String(err)}`;
  }
}
