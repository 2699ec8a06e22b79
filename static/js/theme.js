// Runs in <head>, before the page is drawn: the theme the user chose, else the system's.
(function () {
  "use strict";
  var stored = null;
  try {
    stored = window.localStorage.getItem("theme");
  } catch (error) {
    // Storage can be switched off; the system's preference then decides.
  }
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var theme = stored === "light" || stored === "dark" ? stored : dark ? "dark" : "light";
  document.documentElement.setAttribute("data-bs-theme", theme);
})();
