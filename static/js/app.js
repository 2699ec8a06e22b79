// Small helps on every page. No inline scripts anywhere (CSP): pages opt in with data attributes.
(function () {
  "use strict";

  // --- "/" jumps to the search box -------------------------------------------------------------
  function isTyping(element) {
    var tag = element && element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (element && element.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) {
      return;
    }
    var search = document.getElementById("global-search");
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // --- light and dark themes ---------------------------------------------------------------------
  var toggle = document.getElementById("theme-toggle");
  function showTheme() {
    var dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
    toggle.setAttribute("aria-pressed", dark ? "true" : "false");
  }
  if (toggle) {
    showTheme();
    toggle.addEventListener("click", function () {
      var dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
      var theme = dark ? "light" : "dark";
      document.documentElement.setAttribute("data-bs-theme", theme);
      try {
        window.localStorage.setItem("theme", theme);
      } catch (error) {
        // Not remembered, but switched for this page.
      }
      showTheme();
      document.dispatchEvent(new CustomEvent("backoffice:themechange", { detail: { theme: theme } }));
    });
  }

  // --- names in title case (CDP recommends it) ---------------------------------------------------
  // Only a name typed all in lower or all in upper case gets a suggestion: "McDonald" or
  // "van der Berg" are left alone.
  function titleCase(text) {
    return text.toLowerCase().replace(/(^|[\s\-'\u2019.])(\p{L})/gu, function (match, before, letter) {
      return before + letter.toUpperCase();
    });
  }

  function suggestionFor(field) {
    var value = field.value.trim();
    if (!/\p{L}/u.test(value)) {
      return "";
    }
    var suggestion = titleCase(value);
    if (field.tagName === "SELECT") {
      var offered = Array.prototype.some.call(field.options, function (option) {
        return option.value === suggestion;
      });
      return offered && suggestion !== value ? suggestion : "";
    }
    var oneCase = value === value.toLowerCase() || value === value.toUpperCase();
    return oneCase && suggestion !== value ? suggestion : "";
  }

  document.querySelectorAll("[data-title-case]").forEach(function (field) {
    var hint = document.createElement("div");
    hint.className = "form-text";
    hint.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", hint);
    var shown = "";
    function update() {
      var suggestion = suggestionFor(field);
      // Redrawn only when it changes: the button must stay put while the keyboard moves onto it.
      if (suggestion === shown) {
        return;
      }
      shown = suggestion;
      hint.replaceChildren();
      if (!suggestion) {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-primary py-0";
      button.textContent = "Use \u201c" + suggestion + "\u201d";
      button.setAttribute("data-testid", "title-case-" + field.name);
      button.addEventListener("click", function () {
        field.value = suggestion;
        field.dispatchEvent(new Event("input", { bubbles: true }));
        field.dispatchEvent(new Event("change", { bubbles: true }));
        field.focus();
      });
      hint.append("Suggested: ", button);
    }
    field.addEventListener("input", update);
    field.addEventListener("change", update);
    update();
  });

  // --- the guest's name and e-mail as the agent types a guest ref --------------------------------
  document.querySelectorAll("[data-guest-lookup]").forEach(function (field) {
    var hint = document.createElement("div");
    hint.className = "form-text";
    hint.id = field.id + "-guest";
    hint.setAttribute("aria-live", "polite");
    hint.setAttribute("data-testid", "guest-hint");
    field.insertAdjacentElement("afterend", hint);
    field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + hint.id).trim());
    var timer = null;
    var asked = "";
    var answers = {};

    function show(answer) {
      hint.replaceChildren();
      if (!answer) {
        return;
      }
      if (answer.error) {
        hint.className = "form-text text-danger-emphasis";
        hint.textContent = answer.error;
        return;
      }
      hint.className = "form-text text-success-emphasis";
      var name = document.createElement("strong");
      name.textContent = answer.name || "(no name in CDP)";
      hint.append("Guest: ", name);
      if (answer.email) {
        hint.append(" \u00b7 " + answer.email);
      }
    }

    function lookUp() {
      var value = field.value.trim();
      asked = value;
      if (!value) {
        show(null);
        return;
      }
      if (answers[value]) {
        show(answers[value]);
        return;
      }
      hint.className = "form-text";
      hint.textContent = "Looking the guest up in CDP\u2026";
      var url = field.getAttribute("data-guest-lookup") + "?ref=" + encodeURIComponent(value);
      var lasting = false;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          // A guest found, unknown or mistyped stays so; CDP out of reach (503) is asked again.
          lasting = response.status < 500;
          return response.json();
        })
        .catch(function () {
          lasting = false;
          return { error: "Could not reach the back office to look the guest up." };
        })
        .then(function (answer) {
          if (lasting) {
            answers[value] = answer;
          }
          if (asked === value) {
            show(answer);
          }
        });
    }

    field.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 400);
    });
  });

  // --- a field's error goes once the field is mended ----------------------------------------------
  // The page comes back with the refused value and its error (the form's, or CDP's "lastName: ..."
  // shown on Last name). As soon as the value meets the field's own constraints and is no longer
  // the one refused, the error is hidden; it shows again if the refused value comes back.
  document.querySelectorAll("form .is-invalid[id]").forEach(function (field) {
    var error = document.getElementById(field.id + "_error");
    var refused = field.value;
    var describedBy = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    var withoutError = describedBy.filter(function (id) {
      return !error || id !== error.id;
    });
    function update() {
      var mended = field.value !== refused && field.checkValidity();
      field.classList.toggle("is-invalid", !mended);
      if (mended) {
        field.removeAttribute("aria-invalid");
      } else {
        field.setAttribute("aria-invalid", "true");
      }
      var ids = mended ? withoutError : describedBy;
      if (ids.length) {
        field.setAttribute("aria-describedby", ids.join(" "));
      } else {
        field.removeAttribute("aria-describedby");
      }
      if (error) {
        error.hidden = mended;
      }
    }
    field.addEventListener("input", update);
    field.addEventListener("change", update);
  });

  // --- warn before leaving a form with unsaved changes -------------------------------------------
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    function snapshot() {
      return new URLSearchParams(new FormData(form)).toString();
    }
    var loaded = snapshot();
    var submitting = false;
    form.addEventListener("submit", function () {
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (!submitting && snapshot() !== loaded) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  });
})();
