// syncledger console: the confirmation dialog, and nothing else.
// Without this script every confirmation is an ordinary server-rendered page; with it, a
// form marked `data-dialog` (a GET to a confirmation page) opens that page in a modal.
(function () {
  "use strict";

  function dialogFor() {
    return document.getElementById("confirm-dialog");
  }

  function urlOf(form) {
    var params = new URLSearchParams(new FormData(form));
    var action = form.getAttribute("action") || window.location.pathname;
    var query = params.toString();
    return query ? action + "?" + query : action;
  }

  function open(form) {
    var dialog = dialogFor();
    if (!dialog || typeof dialog.showModal !== "function" || !window.fetch) {
      form.submit();
      return;
    }
    var body = dialog.querySelector(".dialog-body");
    fetch(urlOf(form), {
      credentials: "same-origin",
      headers: { "X-Console-Dialog": "1" },
    })
      .then(function (response) {
        return response.text().then(function (html) {
          return { ok: response.ok || response.status === 400, html: html };
        });
      })
      .then(function (result) {
        body.innerHTML = result.html;
        dialog.showModal();
        var first = body.querySelector("textarea, input:not([type=hidden]), button");
        if (first) {
          first.focus();
        }
      })
      .catch(function () {
        form.submit();
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-dialog")) {
      event.preventDefault();
      open(form);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.closest("[data-close]")) {
      var dialog = dialogFor();
      if (dialog) {
        dialog.close();
      }
    }
  });
})();
