// Draws the dashboard's charts from the JSON the page carries (no inline script: CSP).
(function () {
  "use strict";
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  let charts = [];
  // Bars grow in once, on the first drawing, and never for people who asked for less motion.
  const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let animate = !calm;
  // Counts of saves: whole numbers on the axes.
  const counts = { stacked: true, beginAtZero: true, ticks: { precision: 0 } };
  // The agents' chart lies on its side, one bar per agent, as tall as its rows need.
  const agentsBox = document.getElementById("chart-per-agent-box");
  if (agentsBox) agentsBox.style.height = 60 + 28 * Math.max(1, data.perAgent.length) + "px";
  // The theme's colours are read when drawing; a theme switch (app.js) draws the charts again.
  const draw = () => {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const style = getComputedStyle(document.documentElement);
    const colour = (name) => style.getPropertyValue(name).trim();
    Chart.defaults.color = colour("--bs-body-color");
    Chart.defaults.borderColor = colour("--bs-border-color");
    Chart.defaults.animation = animate ? Chart.defaults.animation : false;
    const outcomes = [
      ["succeeded", "Succeeded", "--bs-success"],
      ["failed", "Failed", "--bs-danger"],
      ["conflict", "Conflict", "--bs-warning"],
      ["pending", "Queued", "--bs-info"],
    ];
    // One stacked dataset per outcome, for the rows of a day or an agent.
    const byOutcome = (rows) => outcomes.map(([key, label, css]) => ({
      label, data: rows.map((row) => row[key]), backgroundColor: colour(css),
    }));
    // One bar per day, ISO week or month, as the table beside it groups the range.
    charts.push(new Chart(document.getElementById("chart-per-period"), {
      type: "bar",
      data: {
        labels: data.series.map((row) => row.label),
        datasets: byOutcome(data.series),
      },
      options: { scales: { x: { stacked: true }, y: counts } },
    }));
    charts.push(new Chart(document.getElementById("chart-fields"), {
      type: "bar",
      data: {
        labels: data.fields.map((row) => row.label),
        datasets: [{ label: "Changes", data: data.fields.map((row) => row.changes), backgroundColor: colour("--bs-primary") }],
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    }));
    charts.push(new Chart(document.getElementById("chart-per-agent"), {
      type: "bar",
      data: {
        labels: data.perAgent.map((row) => row.username),
        datasets: byOutcome(data.perAgent),
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        scales: { x: counts, y: { stacked: true } },
      },
    }));
    animate = false; // a theme switch redraws at once
  };
  draw();
  document.addEventListener("backoffice:themechange", draw);
})();
