// Step-by-step complaint form. Without JavaScript every step shows at once and the form still works.
(function () {
  "use strict";
  var form = document.querySelector("[data-step-form]");
  if (!form) { return; }
  var steps = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-step]"));
  var indicator = form.querySelector("[data-step-indicator]");
  var submitRow = form.querySelector("[data-submit-row]");
  var current = parseInt(form.getAttribute("data-start-step"), 10) || 1;

  function show(number) {
    current = number;
    steps.forEach(function (step) {
      step.hidden = parseInt(step.getAttribute("data-step"), 10) !== number;
    });
    if (indicator) {
      Array.prototype.forEach.call(indicator.querySelectorAll("[data-indicator]"), function (item) {
        var n = parseInt(item.getAttribute("data-indicator"), 10);
        item.classList.toggle("current", n === number);
        item.classList.toggle("done", n < number);
      });
    }
    submitRow.hidden = number !== steps.length;
  }

  function stepIsValid(step) {
    var fields = step.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].checkValidity()) {
        fields[i].reportValidity();
        fields[i].focus();
        return false;
      }
    }
    return true;
  }

  form.addEventListener("click", function (event) {
    var target = event.target;
    if (target.hasAttribute("data-step-next")) {
      if (stepIsValid(steps[current - 1])) {
        show(current + 1);
        steps[current - 1].querySelector("legend").scrollIntoView();
      }
    } else if (target.hasAttribute("data-step-back")) {
      show(current - 1);
    }
  });

  // Only offer the issue types of the chosen product category; the server checks it again.
  var category = form.querySelector("select[name=product_category]");
  var issue = form.querySelector("select[name=issue_type]");
  function filterIssues() {
    if (!category || !issue) { return; }
    var chosen = category.value;
    Array.prototype.forEach.call(issue.querySelectorAll("option[data-category]"), function (option) {
      var match = option.getAttribute("data-category") === chosen;
      option.hidden = !match;
      option.disabled = !match;
      if (!match && option.selected) { issue.value = ""; }
    });
    Array.prototype.forEach.call(issue.querySelectorAll("optgroup"), function (group) {
      group.hidden = !group.querySelector("option:not([hidden])");
    });
  }
  if (category) { category.addEventListener("change", filterIssues); }
  filterIssues();

  if (indicator) { indicator.hidden = false; }
  Array.prototype.forEach.call(form.querySelectorAll("[data-step-buttons]"), function (row) { row.hidden = false; });
  show(Math.min(Math.max(current, 1), steps.length));
})();
