// The operator dashboard: /dashboard. Plain JavaScript and Chart.js (vendor/, MIT); polls the
// operator API every second, so what it shows is at most a couple of seconds old.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "coupon-admin-token";
const POINTS = 120;

let selected = new URLSearchParams(location.search).get("event") ?? "";
let previous = null; // the last stats and when they were read, for rates
let chart = null;

const token = () => sessionStorage.getItem(TOKEN_KEY);

async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token()}` },
  });
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("auth-error").textContent = "The operator token was refused.";
    show();
    throw new Error("signed out");
  }
  return res;
}

const ms = (n) =>
  n === null || n === undefined ? "–" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n} ms`;

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

function show() {
  const signedIn = Boolean(token());
  $("signin-form").hidden = signedIn;
  $("signed-in").hidden = !signedIn;
  $("overview").hidden = !signedIn;
  $("event").hidden = !signedIn || !selected;
}

function select(id) {
  selected = id;
  previous = null;
  if (chart) {
    chart.data.labels = [];
    for (const set of chart.data.datasets) set.data = [];
    chart.update();
  }
  history.replaceState(null, "", `/dashboard?event=${encodeURIComponent(id)}`);
  show();
  refresh();
}

function ensureChart() {
  if (chart || typeof Chart === "undefined") return;
  chart = new Chart($("rates"), {
    type: "line",
    data: {
      labels: [],
      datasets: [
        { label: "issued/s", data: [], borderColor: "#1b6e2d", backgroundColor: "#1b6e2d" },
        { label: "refused/s", data: [], borderColor: "#a61b1b", backgroundColor: "#a61b1b" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true } },
      elements: { point: { radius: 0 } },
    },
  });
}

async function refreshOverview() {
  const [summary, alerts] = await Promise.all([
    api("/v1/admin/metrics/summary?minutes=5").then((r) => r.json()),
    api("/v1/admin/alerts").then((r) => r.json()),
  ]);
  const list = $("alerts");
  list.replaceChildren(
    ...(alerts.open.length === 0
      ? [Object.assign(document.createElement("li"), { textContent: "None.", className: "none" })]
      : alerts.open.map((a) =>
          Object.assign(document.createElement("li"), {
            textContent: `${a.rule} since ${new Date(a.since).toLocaleTimeString()}: ${a.detail}`,
          }),
        )),
  );
  const events = $("events");
  events.replaceChildren(
    ...summary.events.map((id) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = id;
      button.addEventListener("click", () => select(id));
      li.append(button);
      return li;
    }),
  );
}

async function refreshEvent() {
  if (!selected) return;
  const id = encodeURIComponent(selected);
  const [statsRes, summary] = await Promise.all([
    api(`/v1/events/${id}/stats`),
    api(`/v1/admin/metrics/summary?minutes=5&event=${id}`).then((r) => r.json()),
  ]);
  if (statsRes.status === 404) {
    $("event-title").textContent = `${selected}: no such event`;
    return;
  }
  const stats = await statsRes.json();
  const e = stats.event;
  $("event-title").textContent = `${e.name} (${e.id})`;
  $("state").textContent = e.state;
  $("remaining").textContent = String(e.remaining);
  $("issued").textContent = String(e.issued);
  $("released").textContent = String(e.released);
  $("total").textContent = String(e.totalStock);
  $("pause").disabled = e.state === "paused";
  $("resume").disabled = e.state !== "paused";

  const now = Date.now();
  const refused = Object.values(stats.claims.rejected).reduce((a, b) => a + b, 0);
  if (previous) {
    const seconds = Math.max(0.001, (now - previous.at) / 1000);
    const issuedRate = Math.max(0, (stats.claims.issued - previous.issued) / seconds);
    const refusedRate = Math.max(0, (refused - previous.refused) / seconds);
    $("issued-rate").textContent = issuedRate.toFixed(1);
    $("refused-rate").textContent = refusedRate.toFixed(1);
    ensureChart();
    if (chart) {
      chart.data.labels.push(new Date(now).toLocaleTimeString());
      chart.data.datasets[0].data.push(issuedRate);
      chart.data.datasets[1].data.push(refusedRate);
      if (chart.data.labels.length > POINTS) {
        chart.data.labels.shift();
        for (const set of chart.data.datasets) set.data.shift();
      }
      chart.update();
    }
  }
  previous = { at: now, issued: stats.claims.issued, refused };

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
    ...Object.entries(stats.claims.rejected).map(([slug, n]) =>
      Object.assign(document.createElement("li"), { textContent: `${slug}: ${n}` }),
    ),
  );
}

let running = false;
async function refresh() {
  if (!token() || running) return;
  running = true;
  try {
    await Promise.all([refreshOverview(), refreshEvent()]);
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch {
    // Shown by the next successful refresh's time, or by the sign-in form.
  } finally {
    running = false;
  }
}

async function act(action) {
  const verb = action === "pause" ? "Pause" : "Resume";
  if (!window.confirm(`${verb} the event ${selected}?`)) return;
  const res = await api(`/v1/events/${encodeURIComponent(selected)}/${action}`, { method: "POST" });
  $("action-message").textContent = res.ok
    ? `${verb}d: the event is ${(await res.json()).state}.`
    : `${verb} failed (${res.status}).`;
  await refresh();
}

$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  $("auth-error").textContent = "";
  show();
  refresh();
});
$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  show();
});
$("pick-form").addEventListener("submit", (e) => {
  e.preventDefault();
  select($("event-id").value.trim());
});
$("pause").addEventListener("click", () => act("pause"));
$("resume").addEventListener("click", () => act("resume"));

show();
refresh();
setInterval(refresh, 1000);
