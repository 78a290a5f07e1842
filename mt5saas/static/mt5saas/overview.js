// The operators' overview charts: figures from the page's json_script, drawn with Chart.js.
"use strict";

(function () {
  const source = document.getElementById("overview-data");
  if (!source || typeof Chart === "undefined") return;
  const figures = JSON.parse(source.textContent);
  const orders = figures.orders;
  const perHour = figures.bucket_minutes !== 1;
  const labels = orders.series.map((row) => {
    const at = new Date(row.at);
    return perHour
      ? at.toISOString().slice(5, 13).replace("T", " ") + ":00"
      : at.toISOString().slice(11, 16);
  });
  const palette = ["#417690", "#79aec8", "#ba2121", "#e0a800", "#6c757d", "#198754", "#6f42c1", "#fd7e14"];
  const colours = { filled: "#198754", rejected: "#ba2121", failed: "#e0a800", cancelled: "#6c757d",
    queued: "#79aec8", sending: "#417690", placed: "#6f42c1", online: "#198754", offline: "#ba2121",
    error: "#e0a800", connecting: "#79aec8", stopped: "#6c757d", unassigned: "#adb5bd" };
  const colour = (name, i) => colours[name] || palette[i % palette.length];
  const base = { responsive: true, maintainAspectRatio: false, animation: false };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, { ...config, options: { ...base, ...(config.options || {}) } });
  }

  draw("chart-orders", {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "orders per minute", data: orders.series.map((r) => r.per_minute), backgroundColor: "#79aec8" },
        { label: "filled per minute", data: orders.series.map((r) => r.filled / figures.bucket_minutes),
          backgroundColor: "#198754" },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });

  draw("chart-latency", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "p50 ms", data: orders.series.map((r) => r.p50_ms), borderColor: "#417690", spanGaps: true },
        { label: "p99 ms", data: orders.series.map((r) => r.p99_ms), borderColor: "#ba2121", spanGaps: true },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });

  function doughnut(id, counts) {
    const names = Object.keys(counts);
    draw(id, {
      type: "doughnut",
      data: {
        labels: names,
        datasets: [{ data: names.map((n) => counts[n]), backgroundColor: names.map(colour) }],
      },
    });
  }
  doughnut("chart-outcomes", orders.by_status);
  doughnut("chart-accounts", figures.accounts);

  draw("chart-refusals", {
    type: "bar",
    data: {
      labels: figures.refusals.map((r) => `${r.kind}: ${r.reason}`.slice(0, 80)),
      datasets: [{ label: "count", data: figures.refusals.map((r) => r.count), backgroundColor: "#ba2121" }],
    },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true } } },
  });

  draw("chart-hosts", {
    type: "bar",
    data: {
      labels: figures.hosts.map((h) => (h.online ? h.name : `${h.name} (offline)`)),
      datasets: [
        { label: "accounts", data: figures.hosts.map((h) => h.load), backgroundColor: "#417690" },
        { label: "capacity", data: figures.hosts.map((h) => h.capacity), backgroundColor: "#d6e6ee" },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });
})();
