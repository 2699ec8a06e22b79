// The bulk refresh page: polls the job's progress and updates the bar, the counts and the rows.
(function () {
  "use strict";
  // A file too large for the server is refused here, before it is sent, with the form kept.
  var upload = document.querySelector("input[type=file][data-max-bytes]");
  if (upload) {
    var tooLarge = document.createElement("div");
    tooLarge.className = "invalid-feedback";
    tooLarge.id = upload.id + "-too-large";
    upload.after(tooLarge);
    var describedBy = upload.getAttribute("aria-describedby") || "";
    upload.addEventListener("change", function () {
      var file = upload.files[0];
      var limit = Number(upload.dataset.maxBytes);
      var over = Boolean(file && file.size > limit);
      tooLarge.textContent = over
        ? "The file is larger than " + Math.round(limit / 1048576) + " MB; split it."
        : "";
      upload.classList.toggle("is-invalid", over);
      upload.setCustomValidity(over ? tooLarge.textContent : "");
      upload.setAttribute("aria-describedby", (describedBy + (over ? " " + tooLarge.id : "")).trim());
    });
    upload.form.addEventListener("submit", function (event) {
      if (!upload.checkValidity()) {
        event.preventDefault();
        upload.focus();
      }
    });
  }
  var job = document.getElementById("bulk-job");
  if (!job) {
    return;
  }
  var bar = document.getElementById("bulk-bar");
  var fill = document.getElementById("bulk-bar-fill");
  var counts = document.getElementById("bulk-counts");
  var status = document.getElementById("bulk-status");
  var failures = document.getElementById("bulk-failures");
  var badgeClasses = {
    refreshed: "text-bg-success",
    failed: "text-bg-danger",
    skipped: "text-bg-secondary",
    waiting: "text-bg-light border",
    finished: "text-bg-success",
    cancelled: "text-bg-secondary",
    running: "text-bg-primary",
    queued: "text-bg-warning",
  };

  function badge(kind, label) {
    var span = document.createElement("span");
    span.className = "badge " + (badgeClasses[kind] || "text-bg-secondary");
    span.textContent = label;
    return span;
  }

  function showPercent(percent) {
    fill.style.width = percent + "%";
    fill.textContent = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
  }

  function render(progress) {
    showPercent(progress.percent);
    counts.textContent = progress.done + " of " + progress.total + " done, " + progress.failed + " failed.";
    var statusBadge = badge(progress.status, progress.status_label);
    statusBadge.setAttribute("data-testid", "bulk-status");
    status.replaceChildren(statusBadge);
    failures.classList.toggle("d-none", progress.failed === 0);
    Object.keys(progress.rows).forEach(function (ref) {
      var row = job.querySelector('tr[data-ref="' + CSS.escape(ref) + '"]');
      if (!row) {
        return;
      }
      var result = progress.rows[ref];
      row.querySelector('[data-cell="result"]').replaceChildren(badge(result.result, result.label));
      row.querySelector('[data-cell="error"]').textContent = result.error;
      if (result.name) {
        var link = document.createElement("a");
        link.href = row.getAttribute("data-detail-url");
        link.textContent = result.name;
        row.querySelector('[data-cell="name"]').replaceChildren(link);
      }
    });
    if (progress.over) {
      job.querySelectorAll("[data-hide-when-over]").forEach(function (element) {
        element.classList.add("d-none");
      });
    }
  }

  function poll() {
    fetch(job.getAttribute("data-progress-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        render(progress);
        if (!progress.over) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        // A failed poll (the server restarting, a network blip) is tried again a little later.
        window.setTimeout(poll, 5000);
      });
  }

  showPercent(Number(fill.getAttribute("data-percent")));
  if (job.getAttribute("data-over") !== "true") {
    window.setTimeout(poll, 500);
  }
})();
