// The printable report: the print button (no inline handlers, for the strict CSP).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-report");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
});
