// The Django admin's two-list selector (groups, permissions) labels its search icons with an
// aria-label on a bare span, which assistive technology ignores (axe: aria-prohibited-attr).
// Giving the icons the img role makes the label count. The selector is built on "load".
window.addEventListener("load", function () {
  "use strict";
  document.querySelectorAll("span.search-label-icon[aria-label]:not([role])").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});
