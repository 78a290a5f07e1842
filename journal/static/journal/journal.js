// The Journal page's balance and equity chart: the curves from the page's json_script
// (journal/page_data.py chart_data), drawn with Chart.js on a time axis of milliseconds.
"use strict";

(function () {
  const source = document.getElementById("journal-equity-data");
  const canvas = document.getElementById("journal-equity-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const chart = JSON.parse(source.textContent);
  const palette = ["#0d6efd", "#198754", "#6f42c1", "#fd7e14", "#20c997", "#d63384", "#6c757d", "#0dcaf0"];
  const when = (ms) => (window.mt5saas ? window.mt5saas.formatTime(new Date(ms)) : new Date(ms).toISOString());
  const datasets = [];
  // The all-accounts lines first (one per currency), then each account's.
  [...chart.totals, ...chart.accounts].forEach((line, index) => {
    const colour = palette[index % palette.length];
    const points = line.points.map(([at, balance, equity]) => ({ x: Date.parse(at), balance, equity }));
    const common = { borderColor: colour, backgroundColor: colour, pointRadius: 0, borderWidth: 1.5, stepped: false };
    datasets.push({ ...common, label: `${line.label} balance`,
      data: points.map((p) => ({ x: p.x, y: Number(p.balance) })) });
    datasets.push({ ...common, label: `${line.label} equity`, borderDash: [5, 3],
      data: points.map((p) => ({ x: p.x, y: Number(p.equity) })) });
  });
  new Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "linear", ticks: { maxTicksLimit: 8, callback: (value) => when(value).slice(0, 16) } },
        y: { ticks: { maxTicksLimit: 8 } },
      },
      plugins: { tooltip: { callbacks: { title: (items) => (items.length ? when(items[0].parsed.x) : "") } } },
    },
  });
})();
