// A correction's page: polls its progress and updates the bar, the counts and each record's result.
(function () {
  "use strict";
  var job = document.getElementById("rectify-job");
  if (!job || job.dataset.over === "true") {
    return;
  }
  var fill = document.getElementById("rectify-bar-fill");
  var bar = document.getElementById("rectify-bar");
  var counts = document.getElementById("rectify-counts");
  var status = document.getElementById("rectify-status");

  function show(data) {
    fill.style.width = data.percent + "%";
    fill.textContent = data.percent + "%";
    bar.setAttribute("aria-valuenow", String(data.percent));
    counts.textContent = data.done + " of " + data.total + " done, " + data.failed + " need you.";
    status.textContent = data.status_label;
    Object.keys(data.rows).forEach(function (id) {
      var row = job.querySelector('tr[data-item="' + id + '"]');
      if (!row) {
        return;
      }
      var result = row.querySelector('[data-cell="result"]');
      if (result) {
        result.textContent = data.rows[id].label;
      }
      var error = row.querySelector('[data-cell="error"]');
      if (error && !error.querySelector("a")) {
        error.textContent = data.rows[id].error;
      }
    });
    if (data.over) {
      job.querySelectorAll("[data-hide-when-over]").forEach(function (el) {
        el.hidden = true;
      });
      // The links to conflicts come with the page: show it once, as it ended.
      window.location.reload();
    }
  }

  function poll() {
    fetch(job.dataset.progressUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          show(data);
          if (data.over) {
            return;
          }
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }
  fill.style.width = fill.dataset.percent + "%";
  window.setTimeout(poll, 500);
})();
