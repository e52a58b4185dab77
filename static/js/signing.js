// The signing page: ask for the one-time code without reloading (so a typed password stays),
// and show the agreement PDF in a frame on wide screens only (phones open it through the link).
(function () {
  "use strict";

  var slot = document.querySelector(".pdf-frame-slot");
  if (slot && window.matchMedia("(min-width: 601px)").matches) {
    var frame = document.createElement("iframe");
    frame.className = "pdf-frame";
    frame.src = slot.getAttribute("data-pdf-src");
    frame.title = slot.getAttribute("data-pdf-title");
    slot.appendChild(frame);
  }

  var form = document.getElementById("code-form");
  if (!form || !window.fetch) {
    return;
  }
  var button = form.querySelector("button");
  var status = form.querySelector(".code-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        status.textContent = result.ok ? result.body.message : result.body.error.message;
        status.className = "code-status " + (result.ok ? "ok" : "error");
        var code = document.querySelector("#sign-form input[name=code]");
        if (result.ok && code) {
          code.focus();
        }
      })
      .catch(function () {
        status.textContent = form.getAttribute("data-offline") || "";
        status.className = "code-status error";
      })
      .finally(function () {
        window.setTimeout(function () {
          button.disabled = false;
        }, 3000);
      });
  });
})();
