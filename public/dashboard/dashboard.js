// The operator dashboard: /dashboard. Plain JavaScript (type-checked with JSDoc by
// tsconfig.pages.json) and Chart.js (vendor/, MIT); polls the operator API every second, so what
// it shows is at most a couple of seconds old. The live event comes first, with its clock.

/** @typedef {import("../../clients/typescript/src/schema.d.ts").components["schemas"]} Schemas */
/** @typedef {Schemas["Event"]} CouponEvent */
/** @typedef {Schemas["EventStats"]} EventStats */
/** @typedef {Schemas["MetricsSummary"]} MetricsSummary */
/** @typedef {Schemas["Alerts"]} Alerts */
/** @typedef {import("chart.js").Chart<"line", (number | null)[], string>} LineChart */
/** @typedef {import("chart.js").ChartDataset<"line", (number | null)[]>} LineDataset */

/**
 * The element with this id, checked to be a `type` (a missing or different element is a bug).
 * @template {typeof HTMLElement} C
 * @param {string} id
 * @param {C} type
 * @returns {InstanceType<C>}
 */
function el(id, type) {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {InstanceType<C>} */ (found);
}
/** @param {string} id */
const $ = (id) => el(id, HTMLElement);
/** @param {string} id */
const button = (id) => el(id, HTMLButtonElement);

/** Chart.js, as its UMD build (vendor/chart.umd.min.js) leaves it on `window`. */
const ChartJs = /** @type {{ Chart?: typeof import("chart.js").Chart }} */ (
  /** @type {unknown} */ (window)
).Chart;

const TOKEN_KEY = "coupon-admin-token";
const POINTS = 120;
/** The contract's event id (API.md); checked here too, so a bad id is never sent. */
const EVENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** States in which an event is live, the most urgent first: the one shown when none is chosen. */
const LIVE = ["open", "awaiting-release", "paused", "scheduled"];
/** The event list is read every this many refreshes (it changes rarely). */
const LIST_EVERY = 5;

let selected = new URLSearchParams(location.search).get("event") ?? "";
/** @type {{ at: number, issued: number, refused: number } | null} the last stats, for rates */
let previous = null;
/** @type {CouponEvent | null} the selected event as last read */
let current = null;
/** The alert thresholds in force (GET /v1/admin/alerts), until read the post-mortem's. */
let thresholds = { p95Ms: 2000, errorRatePct: 5, windowMinutes: 2 };
/** @type {Record<string, CouponEvent>} the listed events, by id */
let listed = {};
let refreshes = 0;

/** @type {{ rates: LineChart | null, p95: LineChart | null, errors: LineChart | null }} */
const charts = { rates: null, p95: null, errors: null };

const token = () => sessionStorage.getItem(TOKEN_KEY);

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { ...init.headers, Authorization: `Bearer ${token()}` },
  });
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("auth-error").textContent = "The operator token was refused.";
    show();
    throw new Error("signed out");
  }
  return res;
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
async function json(path) {
  const res = await api(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return /** @type {Promise<T>} */ (res.json());
}

/** A duration, short enough for a phone's table: 2.40 s, 48 ms, 4.8 ms. @param {number | null | undefined} n */
function ms(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
  return n >= 10 ? `${Math.round(n)} ms` : `${Number(n.toFixed(1))} ms`;
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** A time of day, with its day when it is not today. @param {string} iso */
function at(iso) {
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  return today ? clock.format(d) : `${day.format(d)} ${clock.format(d)}`;
}

/** @param {number} msLeft */
function duration(msLeft) {
  const s = Math.max(0, Math.ceil(msLeft / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** @param {(string | number)[]} cells */
function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

/** @param {string} text @param {string} [className] */
function item(text, className = "") {
  return Object.assign(document.createElement("li"), { textContent: text, className });
}

function show() {
  const signedIn = Boolean(token());
  $("signin").hidden = signedIn;
  $("signout").hidden = !signedIn;
  $("alerts-panel").hidden = !signedIn;
  $("overview").hidden = !signedIn;
  $("event").hidden = !signedIn || !selected;
}

/** Pause and Resume act only on an event that was read just now, as its state allows. */
function actions() {
  button("pause").disabled = !current || current.state === "paused" || current.state === "ended";
  button("resume").disabled = current?.state !== "paused";
}

/** @param {string} id @param {{ remember?: boolean }} [opts] */
function select(id, { remember = true } = {}) {
  selected = id;
  previous = null;
  current = null;
  actions();
  $("action-message").textContent = "";
  for (const chart of Object.values(charts)) {
    if (!chart) continue;
    chart.data.labels = [];
    for (const set of chart.data.datasets) set.data = [];
    chart.update();
  }
  if (remember) history.replaceState(null, "", `/dashboard?event=${encodeURIComponent(id)}`);
  show();
  refresh();
}

/**
 * A line chart of `sets`; a set with `limit` is the alert threshold, drawn dashed and red, and
 * the y axis always reaches a little past it, so the line is in sight however calm the data.
 * @param {string} canvasId
 * @param {{ label: string, color: string, limit?: boolean }[]} sets
 * @param {() => number} [limit]
 * @returns {LineChart | null}
 */
function lineChart(canvasId, sets, limit) {
  if (!ChartJs) return null;
  /** @type {LineDataset[]} */
  const datasets = sets.map((s) => ({
    label: s.label,
    data: [],
    borderColor: s.color,
    backgroundColor: s.color,
    borderWidth: 2,
    borderDash: s.limit ? [6, 4] : [],
    spanGaps: true,
  }));
  /** @type {import("chart.js").ChartConfiguration<"line", (number | null)[], string>} */
  const config = {
    type: "line",
    data: { labels: [], datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { ticks: { maxRotation: 0, autoSkipPadding: 16 } },
        y: { beginAtZero: true, suggestedMax: limit ? limit() * 1.25 : undefined },
      },
      elements: { point: { radius: 0 } },
      plugins: { legend: { labels: { boxHeight: 2 } } },
    },
  };
  return new ChartJs(el(canvasId, HTMLCanvasElement), config);
}

function ensureCharts() {
  const red = "#a61b1b";
  charts.rates ??= lineChart("rates", [
    { label: "issued/s", color: "#1b6e2d" },
    { label: "refused/s", color: "#b35c00" },
  ]);
  charts.p95 ??= lineChart(
    "p95-chart",
    [
      { label: "p95 (ms)", color: "#0b4f9c" },
      { label: `alert at ${ms(thresholds.p95Ms)}`, color: red, limit: true },
    ],
    () => thresholds.p95Ms,
  );
  charts.errors ??= lineChart(
    "errors-chart",
    [
      { label: "5xx (%)", color: "#0b4f9c" },
      { label: `alert at ${thresholds.errorRatePct}%`, color: red, limit: true },
    ],
    () => thresholds.errorRatePct,
  );
}

/** Keeps the threshold lines' labels and the axes in step with the thresholds in force. */
function retitleLimits() {
  const p95 = charts.p95;
  const errors = charts.errors;
  if (p95?.data.datasets[1] && p95.options.scales?.y) {
    p95.data.datasets[1].label = `alert at ${ms(thresholds.p95Ms)}`;
    p95.options.scales.y.suggestedMax = thresholds.p95Ms * 1.25;
  }
  if (errors?.data.datasets[1] && errors.options.scales?.y) {
    errors.data.datasets[1].label = `alert at ${thresholds.errorRatePct}%`;
    errors.options.scales.y.suggestedMax = thresholds.errorRatePct * 1.25;
  }
}

/**
 * One point per dataset, the oldest dropped past POINTS.
 * @param {LineChart | null} chart
 * @param {string} label
 * @param {(number | null)[]} values
 */
function plot(chart, label, values) {
  if (!chart) return;
  const labels = chart.data.labels ?? [];
  labels.push(label);
  chart.data.labels = labels;
  chart.data.datasets.forEach((set, i) => {
    set.data.push(values[i] ?? null);
  });
  if (labels.length > POINTS) {
    labels.shift();
    for (const set of chart.data.datasets) set.data.shift();
  }
  chart.update();
}

async function refreshAlerts() {
  /** @type {Alerts} */
  const alerts = await json("/v1/admin/alerts");
  const t = alerts.thresholds;
  thresholds = {
    p95Ms: typeof t.p95Ms === "number" ? t.p95Ms : thresholds.p95Ms,
    errorRatePct: typeof t.errorRatePct === "number" ? t.errorRatePct : thresholds.errorRatePct,
    windowMinutes: typeof t.windowMinutes === "number" ? t.windowMinutes : thresholds.windowMinutes,
  };
  retitleLimits();
  const firing = alerts.open.length > 0;
  const panel = $("alerts-panel");
  panel.classList.toggle("firing", firing);
  panel.classList.toggle("calm", !firing);
  $("alerts-title").textContent = firing ? `Alerts firing (${alerts.open.length})` : "Alerts";
  $("alerts").replaceChildren(
    ...(firing
      ? alerts.open.map((a) => item(`${a.rule} since ${clock.format(a.since)}: ${a.detail}`))
      : [item("No alerts firing.", "none")]),
  );
}

/** The listed events with their states; picks the live one when none is chosen. */
async function refreshList() {
  /** @type {MetricsSummary} */
  const summary = await json("/v1/admin/metrics/summary?minutes=5");
  const ids = summary.events.filter((id) => EVENT_ID.test(id)).slice(0, 20);
  const read = await Promise.all(
    ids.map((id) =>
      api(`/v1/events/${encodeURIComponent(id)}`).then((r) =>
        r.ok ? /** @type {Promise<CouponEvent>} */ (r.json()) : null,
      ),
    ),
  );
  listed = {};
  for (const e of read) if (e) listed[e.id] = e;
  $("events").replaceChildren(
    ...ids.map((id) => {
      const li = document.createElement("li");
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "secondary";
      pick.textContent = id;
      pick.addEventListener("click", () => select(id));
      const state = listed[id]?.state;
      li.append(pick, state ? ` ${state}` : "");
      return li;
    }),
  );
  if (!selected) {
    const rank = (/** @type {CouponEvent} */ e) => {
      const i = LIVE.indexOf(e.state);
      return i === -1 ? LIVE.length : i;
    };
    const live = Object.values(listed).sort((a, b) => rank(a) - rank(b))[0];
    if (live) select(live.id, { remember: false });
  }
}

/** @param {string} text */
function notShown(text) {
  current = null;
  actions();
  $("event-title").textContent = text;
  $("state").textContent = "–";
  for (const id of ["starts-at", "next-wave", "countdown", "ends-at"]) $(id).textContent = "–";
}

async function refreshEvent() {
  if (!selected) return;
  if (!EVENT_ID.test(selected)) {
    notShown(`“${selected}” is not an event id (1 to 64 letters, digits, _ or -)`);
    return;
  }
  const id = encodeURIComponent(selected);
  const [statsRes, summary] = await Promise.all([
    api(`/v1/events/${id}/stats`),
    json(`/v1/admin/metrics/summary?minutes=${thresholds.windowMinutes}&event=${id}`).then(
      (s) => /** @type {MetricsSummary} */ (s),
    ),
  ]);
  if (statsRes.status === 404) {
    await statsRes.body?.cancel();
    notShown(`${selected}: no such event`);
    return;
  }
  if (!statsRes.ok) throw new Error(`stats: ${statsRes.status}`);
  /** @type {EventStats} */
  const stats = await statsRes.json();
  const e = stats.event;
  if (e.id !== selected) return; // another event was chosen meanwhile
  current = e;
  actions();
  $("event-title").textContent = `${e.name} (${e.id})`;
  $("state").textContent = e.state;
  $("remaining").textContent = String(e.remaining);
  $("issued").textContent = String(e.issued);
  $("released").textContent = String(e.released);
  $("total").textContent = String(e.totalStock);
  showRoom(e, stats);
  tick();

  const now = Date.now();
  const label = clock.format(now);
  const refused = Object.values(stats.claims.rejected).reduce((a, b) => a + b, 0);
  ensureCharts();
  if (previous) {
    const seconds = Math.max(0.001, (now - previous.at) / 1000);
    const issuedRate = Math.max(0, (stats.claims.issued - previous.issued) / seconds);
    const refusedRate = Math.max(0, (refused - previous.refused) / seconds);
    $("issued-rate").textContent = issuedRate.toFixed(1);
    $("refused-rate").textContent = refusedRate.toFixed(1);
    plot(charts.rates, label, [issuedRate, refusedRate]);
  }
  previous = { at: now, issued: stats.claims.issued, refused };
  // What the p95 and 5xx alerts look at: the slowest route, and 5xx over all answers.
  const p95s = summary.routes.map((r) => r.p95Ms).filter((v) => v !== null);
  const slowest = p95s.length > 0 ? Math.max(...p95s) : null;
  plot(charts.p95, label, [slowest, thresholds.p95Ms]);
  plot(charts.errors, label, [
    summary.total.count > 0 ? summary.total.errorRate * 100 : null,
    thresholds.errorRatePct,
  ]);

  $("latency-title").textContent = `Latency (last ${thresholds.windowMinutes} min)`;
  $("latency").replaceChildren(
    ...summary.routes.map((r) =>
      row([
        `${r.method} ${r.route}`,
        r.count,
        ms(r.p50Ms),
        ms(r.p95Ms),
        ms(r.p99Ms),
        `${(r.errorRate * 100).toFixed(1)}%`,
      ]),
    ),
  );
  $("pending").textContent = String(stats.outbox.pending);
  $("oldest").textContent = ms(stats.outbox.oldestAgeMs);
  $("dead").textContent = String(stats.outbox.deadLetters ?? 0);
  $("sinks").replaceChildren(
    ...Object.entries(stats.sinks).map(([name, s]) =>
      row([name, s.state, s.delivered, s.backlog ?? "–", s.lastError ?? ""]),
    ),
  );
  $("refusals").replaceChildren(
    ...Object.entries(stats.claims.rejected).map(([slug, n]) => item(`${slug}: ${n}`)),
  );
}

/**
 * The waiting room's panel: who joined, how far admission has gone, what was claimed (every
 * coupon of a room event is claimed through it) and refused `queued`, and the draw's commitment
 * and seed.
 * @param {CouponEvent} e
 * @param {EventStats} stats
 */
function showRoom(e, stats) {
  const q = e.queue;
  $("room").hidden = !q;
  if (!q) return;
  $("room-opens").textContent = at(q.opensAt);
  $("room-joined").textContent = String(q.joined);
  $("room-admitted").textContent = String(q.admittedThrough);
  $("room-claimed").textContent = String(stats.claims.issued);
  $("room-lapsed").textContent = String(q.lapsed);
  $("room-queued").textContent = String(stats.claims.rejected.queued ?? 0);
  $("room-rules").textContent = `${q.admitSeconds} s each, margin ${q.margin}`;
  $("room-commitment").textContent = q.seedCommitment;
  $("room-seed").textContent = q.seed ?? `at the start (${at(e.startsAt)})`;
}

/** The event's clock, every quarter second: start, next wave, and what is counted down to. */
function tick() {
  const e = current;
  if (!e) return;
  const now = Date.now();
  const started = Date.parse(e.startsAt) <= now;
  $("starts-at").textContent = `${at(e.startsAt)}${started ? " (started)" : ""}`;
  const done = e.waves.filter((w) => Date.parse(w.at) <= now).length;
  const next = e.waves.find((w) => Date.parse(w.at) > now);
  $("next-wave").textContent = next
    ? `${at(next.at)} · ${next.quantity} coupons (wave ${done + 1} of ${e.waves.length})`
    : `none (all ${e.waves.length} released)`;
  $("ends-at").textContent = e.endsAt ? at(e.endsAt) : "no end";
  /** @type {[string, string]} */
  let countdown = ["Countdown", "–"];
  if (e.state === "ended" || e.state === "sold-out") countdown = ["Countdown", e.state];
  else if (!started) countdown = ["Starts in", duration(Date.parse(e.startsAt) - now)];
  else if (next) countdown = ["Next wave in", duration(Date.parse(next.at) - now)];
  else if (e.endsAt && Date.parse(e.endsAt) > now)
    countdown = ["Ends in", duration(Date.parse(e.endsAt) - now)];
  $("countdown-label").textContent = countdown[0];
  $("countdown").textContent = countdown[1];
}

let running = false;
async function refresh() {
  if (!token() || running) return;
  running = true;
  try {
    const list = refreshes++ % LIST_EVERY === 0 || !selected;
    await Promise.all([refreshAlerts(), refreshEvent(), list ? refreshList() : null]);
    $("updated").textContent = `Updated ${clock.format(Date.now())}`;
  } catch {
    // Shown by the next successful refresh's time, or by the sign-in form.
  } finally {
    running = false;
  }
}

/** @param {"pause" | "resume"} action */
async function act(action) {
  const verb = action === "pause" ? "Pause" : "Resume";
  if (!current || !window.confirm(`${verb} the event ${current.id}?`)) return;
  const res = await api(`/v1/events/${encodeURIComponent(current.id)}/${action}`, {
    method: "POST",
  });
  /** @type {CouponEvent | null} */
  const answer = res.ok ? await res.json() : null;
  $("action-message").textContent = answer
    ? `${verb}d: the event is ${answer.state}.`
    : `${verb} failed (${res.status}).`;
  await refresh();
}

el("signin-form", HTMLFormElement).addEventListener("submit", (e) => {
  e.preventDefault();
  const input = el("token", HTMLInputElement);
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  $("auth-error").textContent = "";
  show();
  refresh();
});
button("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  show();
});
// The form is submitted only when the id matches its pattern (the browser checks it first).
el("pick-form", HTMLFormElement).addEventListener("submit", (e) => {
  e.preventDefault();
  select(el("event-id", HTMLInputElement).value.trim());
});
button("pause").addEventListener("click", () => act("pause"));
button("resume").addEventListener("click", () => act("resume"));

show();
refresh();
setInterval(refresh, 1000);
setInterval(tick, 250);
