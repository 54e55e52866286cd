// csat embed loader: <script src=".../static/js/embed.js" data-csat-survey="<embed url>" async>
// inserts the survey's frame right after the script tag (or, for a script in the page's
// head, at the end of its body). The survey's page decides which sites may frame it
// (Content-Security-Policy frame-ancestors).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.getAttribute("data-csat-survey")) { return; }
  var frame = document.createElement("iframe");
  frame.src = script.getAttribute("data-csat-survey");
  frame.title = script.getAttribute("data-title") || "Survey";
  frame.width = "100%";
  frame.height = script.getAttribute("data-height") || "720";
  frame.loading = "lazy";
  frame.setAttribute("frameborder", "0");
  var inHead = script.parentNode === document.head;
  function place() {
    if (inHead) { document.body.appendChild(frame); } else { script.parentNode.insertBefore(frame, script.nextSibling); }
  }
  if (inHead && !document.body) { document.addEventListener("DOMContentLoaded", place); } else { place(); }
}());
