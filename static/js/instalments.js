// Drafting tables (instalments, waivers, credit corrections): add and remove rows, and show the
// running instalment total against the payment amount. Plain JS, no build step. Without
// JavaScript the form still works: every table has a blank row and a "delete" box per row.
// The server checks everything again; this only helps while typing.
(function () {
  "use strict";
  var form = document.querySelector("[data-instalment-builder]");
  if (!form) { return; }

  // Amounts in cents as integers: 0.1 + 0.2 must not be 0.30000000000000004.
  function cents(text) {
    var value = String(text || "").replace(/[,\s，]/g, "");
    var match = /^(\d+)(?:\.(\d{0,2}))?$/.exec(value);
    if (!match) { return null; }
    var fraction = (match[2] || "") + "00";
    return parseInt(match[1], 10) * 100 + parseInt(fraction.slice(0, 2), 10);
  }

  function yuan(amount) {
    var whole = Math.floor(amount / 100);
    var rest = String(amount % 100);
    return whole + "." + (rest.length < 2 ? "0" + rest : rest);
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  var totalBox = form.querySelector("[data-instalment-total]");
  var amountInput = form.querySelector("[name=payment_amount]");

  function visibleRows(table) {
    return Array.prototype.filter.call(table.querySelectorAll("[data-row-list] > [data-row]"), function (row) {
      var box = row.querySelector("input[name$='-DELETE']");
      return !row.hidden && !(box && box.checked);
    });
  }

  function updateTotal() {
    var table = form.querySelector("[data-rows=instalments]");
    if (!table || !totalBox) { return; }
    var rows = visibleRows(table);
    var total = 0;
    var counted = 0;
    rows.forEach(function (row) {
      var input = row.querySelector("input[name$='-amount']");
      var value = input ? cents(input.value) : null;
      if (value !== null) { total += value; counted += 1; }
    });
    if (!counted) { totalBox.textContent = ""; return; }
    var amount = amountInput ? cents(amountInput.value) : null;
    var values = { total: yuan(total), difference: "" };
    var key;
    if (amount === null) {
      key = "msgNoAmount";
    } else if (total === amount) {
      key = "msgMatch";
    } else {
      values.difference = yuan(Math.abs(total - amount));
      key = total > amount ? "msgMore" : "msgLess";
    }
    totalBox.textContent = fill(totalBox.dataset[key] || "", values);
    totalBox.classList.toggle("mismatch", key !== "msgMatch");
  }

  function removeRow(row) {
    // The row stays in the form, marked deleted: the formset's row numbers must not get gaps.
    var box = row.querySelector("input[name$='-DELETE']");
    if (box) { box.checked = true; }
    row.hidden = true;
    updateTotal();
  }

  function enhanceRow(row) {
    var label = row.querySelector(".delete-box");
    var button = row.querySelector("[data-remove-row]");
    if (label && button) {
      label.hidden = true;
      button.hidden = false;
      button.addEventListener("click", function () { removeRow(row); });
    }
  }

  Array.prototype.forEach.call(form.querySelectorAll("[data-rows]"), function (table) {
    var prefix = table.getAttribute("data-rows");
    var list = table.querySelector("[data-row-list]");
    var template = table.querySelector("template[data-row-template]");
    var totalInput = table.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var maxInput = table.querySelector("input[name='" + prefix + "-MAX_NUM_FORMS']");
    var add = table.querySelector("[data-add-row]");
    Array.prototype.forEach.call(list.querySelectorAll("[data-row]"), function (row) {
      var box = row.querySelector("input[name$='-DELETE']");
      if (box && box.checked) { row.hidden = true; }
      enhanceRow(row);
    });
    if (!template || !totalInput || !add) { return; }
    add.hidden = false;
    add.addEventListener("click", function () {
      var index = parseInt(totalInput.value, 10) || 0;
      var limit = maxInput ? parseInt(maxInput.value, 10) : 1000;
      if (index >= limit) { return; }
      var holder = document.createElement("tbody");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.querySelector("[data-row]");
      list.appendChild(row);
      totalInput.value = String(index + 1);
      enhanceRow(row);
      var first = row.querySelector("input:not([type=hidden]):not([type=checkbox]), select");
      if (first) { first.focus(); }
      updateTotal();
    });
  });

  form.addEventListener("input", updateTotal);
  form.addEventListener("change", updateTotal);
  updateTotal();
})();
