// Progressive enhancement of the respondent form: the form works without this file; with it,
// a conditional follow-up appears only when its trigger's score is in range.
(function () {
  "use strict";
  // A refused submission: focus goes to the list of questions to fix, so a keyboard or
  // screen-reader user starts there and follows a link straight to each question.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  var form = document.querySelector("form");
  if (!form) { return; }
  var followUps = Array.prototype.slice.call(form.querySelectorAll("[data-show-if]"));
  if (!followUps.length) { return; }
  function score(questionId) {
    var checked = form.querySelector('input[name="q' + questionId + '"]:checked');
    return checked ? Number(checked.value) : null;
  }
  function update() {
    followUps.forEach(function (fieldset) {
      var value = score(fieldset.getAttribute("data-show-if"));
      var low = fieldset.getAttribute("data-min");
      var high = fieldset.getAttribute("data-max");
      var shown = value !== null &&
        (low === "" || value >= Number(low)) && (high === "" || value <= Number(high));
      fieldset.hidden = !shown;
    });
  }
  followUps.forEach(function (fieldset) {
    var hint = fieldset.querySelector(".condition");
    if (hint) { hint.hidden = true; }
  });
  form.addEventListener("change", update);
  update();
}());
