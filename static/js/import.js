/* Import pages: follow a running import's progress; show the survey choice only for responses.
   Without JavaScript the job page refreshes itself (a <noscript> meta refresh) and the upload
   form shows every field. */
(function () {
  "use strict";

  var POLL_MS = 1000;

  function followProgress(box) {
    var url = box.getAttribute("data-import-progress");
    var status = box.getAttribute("data-status");
    var bar = box.querySelector("progress");

    function show(data) {
      if (bar) {
        bar.value = data.progress_percent;
        bar.textContent = data.progress_percent + "%";
      }
      Object.keys(data).forEach(function (name) {
        var field = box.querySelector('[data-field="' + name + '"]');
        if (field && data[name] !== null) {
          field.textContent = data[name];
        }
      });
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("progress " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          show(data);
          if (data.status !== status) {
            // A new stage (checked, imported, failed) has its own page content.
            window.location.reload();
            return;
          }
          window.setTimeout(poll, POLL_MS);
        })
        .catch(function () {
          window.setTimeout(poll, POLL_MS * 5);
        });
    }

    window.setTimeout(poll, POLL_MS);
  }

  function surveyOnlyForResponses(form) {
    var kind = form.querySelector('select[name="kind"]');
    var survey = form.querySelector('select[name="survey"]');
    if (!kind || !survey) {
      return;
    }
    var field = survey.closest(".field");
    function toggle() {
      field.hidden = kind.value !== "responses";
    }
    kind.addEventListener("change", toggle);
    toggle();
  }

  document.querySelectorAll("[data-import-progress]").forEach(followProgress);
  document.querySelectorAll("[data-import-upload]").forEach(surveyOnlyForResponses);
})();
