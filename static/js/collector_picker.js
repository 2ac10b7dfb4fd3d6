// The collector picker: as a name, number or catalogue id is typed, the site's
// suggestions (collectors whose name or id contains it) fill the input's datalist.
// Without the script the field still takes any of the three; the server decides.
(function () {
  "use strict";

  document.querySelectorAll("input[data-suggest-url][list]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var asked = 0;

    function fill(suggestions, question) {
      if (question !== asked) return; // an older answer arriving late
      list.replaceChildren();
      suggestions.forEach(function (suggestion) {
        var option = document.createElement("option");
        option.value = suggestion.value;
        option.label = suggestion.label;
        option.textContent = suggestion.label;
        list.appendChild(option);
      });
      list.dataset.query = input.value;
    }

    function suggest() {
      var query = input.value.trim();
      var question = ++asked;
      if (!query) { fill([], question); return; }
      var url = input.dataset.suggestUrl + "?q=" + encodeURIComponent(query);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (body) { fill(body.suggestions || [], question); })
        .catch(function () { /* no suggestions; typing still works */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 150);
    });
  });
})();
