// csat embed loader: <script src=".../static/js/embed.js" data-csat-survey="<embed url>" async>
// inserts the survey's frame right after the script tag. The survey's page decides which
// sites may frame it (Content-Security-Policy frame-ancestors).
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
  script.parentNode.insertBefore(frame, script.nextSibling);
}());
