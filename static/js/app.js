// Small helps on every page. No inline scripts anywhere (CSP): pages opt in with data attributes.
(function () {
  "use strict";

  // --- keyboard shortcuts: / e Ctrl+Enter j k Esc ? ------------------------------------------
  // None acts while the agent types in a field, but Ctrl+Enter (Cmd+Enter), which saves. Each
  // target carries its key as aria-keyshortcuts; the help dialog (?) lists them all.
  var TEXT_INPUTS = /^(text|search|email|tel|url|password|number|date|datetime-local|month|time|week)$/;
  function isTyping(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    if (tag === "INPUT") {
      return TEXT_INPUTS.test(element.type || "text");
    }
    return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function first(selector) {
    return document.querySelector(selector);
  }

  function focusSearch() {
    var search = document.getElementById("global-search");
    if (!search) {
      return false;
    }
    // On narrow screens the search box sits in the collapsed navigation: open it first.
    var collapse = search.closest(".navbar-collapse");
    if (collapse && !collapse.classList.contains("show") && window.bootstrap) {
      window.bootstrap.Collapse.getOrCreateInstance(collapse, { toggle: false }).show();
    }
    search.focus();
    search.select();
    return true;
  }

  function openHelp() {
    var help = document.getElementById("shortcuts-help");
    if (help && !help.open) {
      help.showModal();
    }
    return Boolean(help);
  }

  function follow(selector) {
    var target = first(selector);
    if (!target) {
      return false;
    }
    target.click();
    return true;
  }

  document.querySelectorAll("[data-shortcut-help]").forEach(function (button) {
    button.addEventListener("click", openHelp);
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) {
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = event.target.closest ? event.target.closest("form") : null;
      var save = (form && form.querySelector("[data-shortcut-save]")) || first("[data-shortcut-save]");
      if (save) {
        event.preventDefault();
        save.click();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) {
      return;
    }
    if (document.querySelector("dialog[open]")) {
      return; // the dialog handles its own keys (Esc closes it)
    }
    var done = false;
    if (event.key === "/") {
      done = focusSearch();
    } else if (event.key === "?") {
      done = openHelp();
    } else if (event.key === "e") {
      done = follow("[data-shortcut-edit]");
    } else if (event.key === "j") {
      done = follow("[data-shortcut-next]");
    } else if (event.key === "k") {
      done = follow("[data-shortcut-prev]");
    } else if (event.key === "Escape") {
      done = follow("[data-shortcut-back]");
    }
    if (done) {
      event.preventDefault();
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

  // --- the guest picker: a combobox over CDP's guests, or a pasted ref or link -------------------
  // ARIA 1.2 combobox with a listbox popup: typing a name or e-mail address searches CDP's guests
  // (debounced, at most 20); Down/Up move through them, Enter picks one, Esc closes the list.
  // A ref or a link pasted instead is looked up and named, as before.
  var LOOKS_LIKE_REF = /^(https?:\/\/|[0-9a-f]{8}-[0-9a-f]{4}-)/i;

  document.querySelectorAll("[data-guest-lookup]").forEach(function (field) {
    var wrapper = document.createElement("div");
    wrapper.className = "combobox";
    field.parentNode.insertBefore(wrapper, field);
    wrapper.appendChild(field);
    var list = document.createElement("ul");
    list.id = field.id + "-options";
    list.className = "combobox-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Guests found in CDP");
    list.setAttribute("data-testid", "guest-options");
    list.hidden = true;
    wrapper.appendChild(list);
    field.setAttribute("role", "combobox");
    field.setAttribute("aria-autocomplete", "list");
    field.setAttribute("aria-expanded", "false");
    field.setAttribute("aria-controls", list.id);

    var hint = document.createElement("div");
    hint.className = "form-text";
    hint.id = field.id + "-guest";
    hint.setAttribute("aria-live", "polite");
    hint.setAttribute("data-testid", "guest-hint");
    wrapper.insertAdjacentElement("afterend", hint);
    field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + hint.id).trim());

    var timer = null;
    var asked = "";
    var answers = {};
    var options = [];
    var active = -1;

    function showGuest(answer) {
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

    function close() {
      list.hidden = true;
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      options.forEach(function (option, at) {
        option.element.setAttribute("aria-selected", at === index ? "true" : "false");
      });
      active = index;
      if (index >= 0) {
        field.setAttribute("aria-activedescendant", options[index].element.id);
        options[index].element.scrollIntoView({ block: "nearest" });
      } else {
        field.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var guest = options[index].guest;
      field.value = guest.ref;
      asked = guest.ref;
      answers[guest.ref] = guest;
      close();
      showGuest(guest);
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function showOptions(answer, value) {
      list.replaceChildren();
      options = [];
      if (answer.error) {
        close();
        showGuest(answer);
        return;
      }
      (answer.guests || []).forEach(function (guest, at) {
        var option = document.createElement("li");
        option.id = list.id + "-" + at;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        var name = document.createElement("span");
        name.textContent = (guest.name || "(no name in CDP)") + (guest.email ? " \u00b7 " + guest.email : "");
        var ref = document.createElement("span");
        ref.className = "ref small text-body-secondary";
        ref.textContent = guest.ref;
        option.append(name, ref);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the field
        });
        option.addEventListener("click", function () {
          choose(at);
        });
        list.appendChild(option);
        options.push({ element: option, guest: guest });
      });
      hint.className = "form-text";
      if (!options.length) {
        close();
        hint.textContent = "CDP has no guest called \u201c" + value + "\u201d (whole last name, or first and last name, or an e-mail address).";
        return;
      }
      hint.textContent = options.length + (answer.more ? "+" : "") + " guest" + (options.length === 1 ? "" : "s") + " found: use the arrow keys and Enter to pick one.";
      list.hidden = false;
      field.setAttribute("aria-expanded", "true");
      highlight(-1);
    }

    function ask(url, value, then) {
      var lasting = false;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          // A guest found, unknown or mistyped stays so; CDP out of reach (503) is asked again.
          lasting = response.status < 500;
          return response.json();
        })
        .catch(function () {
          lasting = false;
          return { error: "Could not reach the back office to ask CDP." };
        })
        .then(function (answer) {
          if (lasting) {
            answers[url] = answer;
          }
          if (asked === value) {
            then(answer);
          }
        });
    }

    function lookUp() {
      var value = field.value.trim();
      asked = value;
      if (!value) {
        close();
        showGuest(null);
        return;
      }
      var url;
      if (LOOKS_LIKE_REF.test(value)) {
        close();
        url = field.getAttribute("data-guest-lookup") + "?ref=" + encodeURIComponent(value);
        if (answers[url]) {
          showGuest(answers[url]);
          return;
        }
        hint.className = "form-text";
        hint.textContent = "Looking the guest up in CDP\u2026";
        ask(url, value, showGuest);
        return;
      }
      if (value.length < 2) {
        close();
        return;
      }
      url = field.getAttribute("data-guest-search") + "?q=" + encodeURIComponent(value);
      if (answers[url]) {
        showOptions(answers[url], value);
        return;
      }
      hint.className = "form-text";
      hint.textContent = "Searching CDP's guests\u2026";
      ask(url, value, function (answer) {
        showOptions(answer, value);
      });
    }

    field.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 300);
    });
    field.addEventListener("keydown", function (event) {
      var open = !list.hidden && options.length > 0;
      if (event.key === "ArrowDown" && options.length) {
        event.preventDefault();
        if (list.hidden) {
          list.hidden = false;
          field.setAttribute("aria-expanded", "true");
        }
        highlight(active + 1 < options.length ? active + 1 : 0);
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        highlight(active > 0 ? active - 1 : options.length - 1);
      } else if (event.key === "Enter" && open && active >= 0 && !(event.ctrlKey || event.metaKey)) {
        event.preventDefault(); // picks the guest; it does not submit the form
        choose(active);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        event.stopPropagation();
        close();
      }
    });
    field.addEventListener("blur", function () {
      window.setTimeout(close, 150);
    });
  });

  // --- "Apply this surname to every traveller": the link carries the last name as typed --------
  document.querySelectorAll("[data-surname-link]").forEach(function (link) {
    var field = document.getElementById("id_last_name");
    if (!field) {
      return;
    }
    field.addEventListener("input", function () {
      var url = new URL(link.href, window.location.href);
      url.searchParams.set("surname", field.value.trim());
      link.href = url.pathname + url.search;
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
