// Draws the dashboard's charts from the JSON the page carries (no inline script: CSP).
(function () {
  "use strict";
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  let charts = [];
  // The theme's colours are read when drawing; a theme switch (app.js) draws the charts again.
  const draw = () => {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const style = getComputedStyle(document.documentElement);
    const colour = (name) => style.getPropertyValue(name).trim();
    Chart.defaults.color = colour("--bs-body-color");
    Chart.defaults.borderColor = colour("--bs-border-color");
    const outcomes = [
      ["succeeded", "Succeeded", "--bs-success"],
      ["failed", "Failed", "--bs-danger"],
      ["conflict", "Conflict", "--bs-warning"],
      ["pending", "Queued", "--bs-info"],
    ];
    charts.push(new Chart(document.getElementById("chart-per-day"), {
      type: "bar",
      data: {
        labels: data.perDay.map((row) => row.day),
        datasets: outcomes.map(([key, label, css]) => ({
          label, data: data.perDay.map((row) => row[key]), backgroundColor: colour(css),
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }));
    charts.push(new Chart(document.getElementById("chart-fields"), {
      type: "bar",
      data: {
        labels: data.fields.map((row) => row.label),
        datasets: [{ label: "Changes", data: data.fields.map((row) => row.changes), backgroundColor: colour("--bs-primary") }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    }));
    charts.push(new Chart(document.getElementById("chart-per-agent"), {
      type: "bar",
      data: {
        labels: data.perAgent.map((row) => row.username),
        datasets: outcomes.map(([key, label, css]) => ({
          label, data: data.perAgent.map((row) => row[key]), backgroundColor: colour(css),
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }));
  };
  draw();
  document.addEventListener("backoffice:themechange", draw);
})();
