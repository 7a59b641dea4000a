/*
 * Draws the charts of a load-test report page (loadtest/html.ts inlines this file and Chart.js,
 * so the page needs no network). Reads the data from <script id="report-data">; each chart is
 * drawn for this run and, beside it, for the previous run of the same scenario, on the same
 * y scale. When done: `document.body.dataset.rendered = "1"` and `window.reportCharts` lists every
 * chart with its number of data points (the end-to-end test and the PNG rendering wait for it).
 */
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const Chart = window.Chart;
  Chart.defaults.animation = false;
  Chart.defaults.font.size = 11;

  const COLORS = {
    "claim 201": "#2e7d32",
    "claim 200": "#66bb6a",
    "claim 409 sold-out": "#ef6c00",
    "claim 409 awaiting-release": "#fbc02d",
    "claim 409 not-started": "#a1887f",
    "event 200": "#90caf9",
    "coupon 200": "#1565c0",
  };
  const FALLBACK = ["#8e24aa", "#00838f", "#6d4c41", "#c2185b", "#546e7a", "#9e9d24", "#3949ab"];
  const colorOf = (key, i) => {
    if (COLORS[key]) return COLORS[key];
    if (/ 5\d\d| error /.test(key)) return i % 2 ? "#b71c1c" : "#e53935";
    if (/ 429 /.test(key)) return "#7b1fa2";
    if (/ 404 /.test(key)) return "#9e9e9e";
    return FALLBACK[i % FALLBACK.length];
  };

  /** Vertical dashed lines at the run's markers (opening, waves, faults, last coupon, drained). */
  const markersPlugin = {
    id: "markers",
    afterDatasetsDraw(chart, _args, opts) {
      const markers = opts.markers || [];
      const x = chart.scales.x;
      const { top, bottom } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.font = "10px sans-serif";
      markers.forEach((m, i) => {
        const px = opts.toPixel ? opts.toPixel(x, m.t) : x.getPixelForValue(m.t);
        if (!Number.isFinite(px) || px < chart.chartArea.left || px > chart.chartArea.right) return;
        ctx.strokeStyle = /down|empty/.test(m.label) ? "#c62828" : "#455a64";
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(px, top);
        ctx.lineTo(px, bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#37474f";
        ctx.fillText(m.label, px + 3, top + 10 + (i % 4) * 11);
      });
      ctx.restore();
    },
  };
  Chart.register(markersPlugin);

  const secs = (ms) => ms / 1000;
  const present = (p) => p.y !== null && p.y !== undefined;
  const xy = (xs, ys) => xs.map((x, i) => ({ x, y: ys[i] })).filter(present);
  /** Keeps empty bins as gaps (a line is not drawn across a stall). */
  const xyGaps = (xs, ys) => xs.map((x, i) => ({ x, y: ys[i] ?? null }));

  /** Every chart as a function of one report: its type, datasets and options. */
  const CHARTS = [
    {
      id: "latency",
      title: "Claim latency by send time (ms, log scale): p50 / p95 / p99 / max per bin",
      build: (r) => ({
        type: "line",
        datasets: ["p50", "p95", "p99", "max"].map((k, i) => ({
          label: k,
          data: xyGaps(r.series.t, r.series.claimLatency[k]),
          spanGaps: false,
          borderColor: ["#43a047", "#fb8c00", "#e53935", "#6a1b9a"][i],
          backgroundColor: ["#43a047", "#fb8c00", "#e53935", "#6a1b9a"][i],
          pointRadius: 1.5,
          borderWidth: 1.5,
        })),
        y: { type: "logarithmic", title: "ms" },
      }),
    },
    {
      id: "answers",
      title: "Answers per bin, by request, status and problem slug",
      build: (r) => ({
        type: "bar",
        datasets: Object.entries(r.series.answers).map(([key, counts], i) => ({
          label: key,
          data: xy(r.series.t, counts).map((p) => ({ x: p.x + r.series.binMs / 2000, y: p.y })),
          backgroundColor: colorOf(key, i),
          barPercentage: 1,
          categoryPercentage: 1,
        })),
        stacked: true,
        y: { title: "answers" },
      }),
    },
    {
      id: "in-flight",
      title: "Users in flight: visitors on the page and requests awaiting an answer (peak per bin)",
      build: (r) => ({
        type: "line",
        datasets: [
          {
            label: "visitors on the page",
            data: xy(r.series.t, r.series.visitorsInFlight),
            borderColor: "#1e88e5",
            backgroundColor: "rgba(30,136,229,0.15)",
            fill: true,
            stepped: true,
            pointRadius: 0,
          },
          {
            label: "requests in flight",
            data: xy(r.series.t, r.series.requestsInFlight),
            borderColor: "#f4511e",
            stepped: true,
            pointRadius: 0,
          },
        ],
        y: { title: "in flight" },
      }),
    },
    {
      id: "stock",
      title: "Stock: released, issued and remaining (GET /v1/events/{id}/stats)",
      build: (r) => ({
        type: "line",
        datasets: [
          ["remaining", "#43a047"],
          ["issued", "#1e88e5"],
          ["released", "#9e9e9e"],
        ].map(([k, c]) => ({
          label: k,
          data: r.samples.map((s) => ({ x: secs(s.t), y: s[k] })),
          borderColor: c,
          backgroundColor: c,
          pointRadius: 0,
          borderWidth: 1.5,
          stepped: true,
        })),
        y: { title: "coupons" },
      }),
    },
    {
      id: "drain",
      title: "Drain: outbox rows pending, records delivered to MySQL and Kafka",
      build: (r) => ({
        type: "line",
        datasets: [
          ["pending", "outbox pending", "#e53935"],
          ["mysqlDelivered", "MySQL delivered", "#00897b"],
          ["kafkaDelivered", "Kafka delivered", "#5e35b1"],
        ].map(([k, label, c]) => ({
          label,
          data: r.samples.map((s) => ({ x: secs(s.t), y: s[k] })),
          borderColor: c,
          backgroundColor: c,
          pointRadius: 0,
          borderWidth: 1.5,
          stepped: true,
          borderDash: k === "kafkaDelivered" ? [5, 3] : [],
        })),
        y: { title: "rows / records" },
      }),
    },
  ];

  const maxOf = (spec) => {
    let m = 0;
    for (const d of spec.datasets) {
      if (spec.stacked) continue;
      for (const p of d.data) if (typeof p.y === "number" && p.y > m) m = p.y;
    }
    if (spec.stacked) {
      const sums = new Map();
      for (const d of spec.datasets)
        for (const p of d.data) sums.set(p.x, (sums.get(p.x) || 0) + p.y);
      for (const v of sums.values()) if (v > m) m = v;
    }
    return m;
  };

  const drawn = [];
  const draw = (canvas, spec, report, yMax) => {
    const points = spec.datasets.reduce((n, d) => n + d.data.filter(present).length, 0);
    const yScale = {
      type: spec.y.type || "linear",
      stacked: !!spec.stacked,
      title: { display: true, text: spec.y.title },
      // The same scale beside the previous run: a regression shows as a taller line.
      max: yMax > 0 && spec.y.type === "logarithmic" ? yMax * 1.3 : undefined,
      suggestedMax: yMax > 0 && spec.y.type !== "logarithmic" ? yMax : undefined,
      beginAtZero: spec.y.type !== "logarithmic",
    };
    const chart = new Chart(canvas, {
      type: spec.type,
      data: { datasets: spec.datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        parsing: true,
        normalized: true,
        scales: {
          x: {
            type: "linear",
            stacked: !!spec.stacked,
            title: { display: true, text: "seconds from the opening (startsAt)" },
            min: Math.min(report.series.t[0], ...report.markers.map((m) => secs(m.t))),
            max: Math.max(
              report.series.t[report.series.t.length - 1] + report.series.binMs / 1000,
              ...report.samples.map((s) => secs(s.t)),
            ),
          },
          y: yScale,
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 10 } },
          markers: { markers: report.markers.map((m) => ({ t: secs(m.t), label: m.label })) },
        },
      },
    });
    drawn.push({ id: canvas.id, datasets: spec.datasets.length, points, chart: chart.id });
  };

  for (const def of CHARTS) {
    const now = def.build(data.now);
    const prev = data.previous ? def.build(data.previous) : null;
    const yMax = Math.max(maxOf(now), prev ? maxOf(prev) : 0);
    draw(document.getElementById(`now-${def.id}`), now, data.now, yMax);
    if (prev) draw(document.getElementById(`prev-${def.id}`), prev, data.previous, yMax);
    const title = document.getElementById(`title-${def.id}`);
    if (title) title.textContent = def.title;
  }
  window.reportCharts = drawn;
  document.body.dataset.rendered = "1";
})();
