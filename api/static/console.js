// syncledger console: the confirmation dialog and local times, nothing else.
// Without this script every confirmation is an ordinary server-rendered page and times show
// in UTC only. With it, a form or link marked `data-dialog` (a GET to a confirmation page)
// opens that page in a modal <dialog> (Escape closes it, focus returns to the opener), and
// each <time data-local> gets the reader's local time beside the UTC one.
(function () {
  "use strict";

  var opener = null;

  function dialogFor() {
    return document.getElementById("confirm-dialog");
  }

  function urlOf(element) {
    if (element instanceof HTMLAnchorElement) {
      return element.href;
    }
    var params = new URLSearchParams(new FormData(element));
    var action = element.getAttribute("action") || window.location.pathname;
    var query = params.toString();
    return query ? action + "?" + query : action;
  }

  function fallback(element) {
    if (element instanceof HTMLAnchorElement) {
      window.location.href = element.href;
    } else {
      element.submit();
    }
  }

  function open(element, trigger) {
    var dialog = dialogFor();
    if (!dialog || typeof dialog.showModal !== "function" || !window.fetch) {
      fallback(element);
      return;
    }
    opener = trigger || element;
    var body = dialog.querySelector(".dialog-body");
    fetch(urlOf(element), {
      credentials: "same-origin",
      headers: { "X-Console-Dialog": "1" },
    })
      .then(function (response) {
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        localTimes(body);
        var heading = body.querySelector("h1, h2");
        if (heading) {
          heading.id = heading.id || "confirm-dialog-title";
          dialog.setAttribute("aria-labelledby", heading.id);
          dialog.removeAttribute("aria-label");
        }
        dialog.showModal();
        var first = body.querySelector(
          "textarea, input:not([type=hidden]), select, button, a[href]"
        );
        if (first) {
          first.focus();
        }
      })
      .catch(function () {
        fallback(element);
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-dialog")) {
      event.preventDefault();
      open(form, event.submitter || document.activeElement);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var link = target.closest("a[data-dialog]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      open(link, link);
      return;
    }
    if (target.closest("[data-close]")) {
      var dialog = dialogFor();
      if (dialog) {
        dialog.close();
      }
    }
  });

  function restoreFocus() {
    if (opener && typeof opener.focus === "function" && document.contains(opener)) {
      opener.focus();
    }
    opener = null;
  }

  // Local time beside UTC, in the browser's own time zone.
  function localTimes(root) {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      zone = "";
    }
    if (!zone || zone === "UTC" || zone === "Etc/UTC") {
      return;
    }
    var format = new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short",
    });
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      if (el.nextElementSibling && el.nextElementSibling.classList.contains("local-time")) {
        return;
      }
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) {
        return;
      }
      var local = document.createElement("span");
      local.className = "local-time";
      local.title = "Your local time (" + zone + ")";
      local.textContent = format.format(when);
      el.insertAdjacentElement("afterend", local);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = dialogFor();
    if (dialog) {
      dialog.addEventListener("close", restoreFocus);
    }
    localTimes(document);
  });
})();
