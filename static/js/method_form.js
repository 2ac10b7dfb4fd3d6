// The training form: a field that only applies for some values of another (the weights
// of a feature CNN, the guided-sampling knobs) is hidden and disabled otherwise, so it is
// neither seen nor posted. The server applies the same rules (webapp/jobs/forms.py).
(function () {
  "use strict";

  function valueOf(control) {
    if (control.type === "checkbox") return control.checked ? "on" : "";
    return control.value;
  }

  function update(form) {
    form.querySelectorAll("[data-shown-by]").forEach(function (row) {
      var control = document.getElementById(row.dataset.shownBy);
      if (!control) return;
      var values = row.dataset.shownValues.split(" ");
      // A field with an error stays in sight, or its message would be hidden with it.
      var shown = values.indexOf(valueOf(control)) !== -1 || row.classList.contains("has-error");
      row.hidden = !shown;
      row.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !shown;
      });
    });
  }

  document.querySelectorAll("form[data-dependent-fields]").forEach(function (form) {
    form.addEventListener("change", function () { update(form); });
    update(form);
  });
})();
