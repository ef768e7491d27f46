/* Dealflow: behaviour shared by every page. CSP forbids inline script, so pages opt in with data- attributes:
   data-nav-toggle, data-dismiss (messages), data-dialog-open="dialog-id", data-dialog-close,
   data-autosubmit (form submits when a field changes), data-confirm="question" (form or button).
   Server code can raise a toast from an HTMX response with the header
   HX-Trigger: {"dealflow:toast": {"text": "...", "level": "error|success|info"}}. */
(function () {
  "use strict";

  function undoButton(undo, item) {
    // An Undo for a few seconds after a delete or a board step: it posts to undo.url (restore, or the
    // board's undo with undo.values); the answer swaps the board back or redirects (HX-Redirect).
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small";
    button.setAttribute("data-action", "undo");
    button.textContent = document.documentElement.lang === "nl" ? "Ongedaan maken" : "Undo";
    button.addEventListener("click", function () {
      item.remove();
      if (!window.htmx) return;
      var target = undo.target ? document.querySelector(undo.target) : null;  // a board card: replaced
      window.htmx.ajax("POST", undo.url, {
        values: undo.values || {}, target: target || "body", swap: target ? "outerHTML" : "none"
      });
    });
    return button;
  }

  function toast(text, level, undo) {
    var box = document.getElementById("messages");
    if (!box || !text) return;
    var item = document.createElement("div");
    item.className = "message message-" + (level || "info");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = text;  // never innerHTML: toast text may come from user data
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "×");
    close.textContent = "×";
    item.appendChild(span);
    if (undo && undo.url) item.appendChild(undoButton(undo, item));
    item.appendChild(close);
    box.appendChild(item);
    if (level !== "error") setTimeout(function () { item.remove(); }, undo ? 8000 : 6000);
  }

  window.Dealflow = window.Dealflow || {};
  window.Dealflow.toast = toast;

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = nav.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      dismiss.closest(".message").remove();
      return;
    }
    var opener = target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = target.closest("[data-dialog-close]");
    if (closer) {
      var owner = closer.closest("dialog");
      if (owner) { event.preventDefault(); owner.close(); }
      return;
    }
    // Close open <details> menus when clicking elsewhere.
    document.querySelectorAll("details[open].user-menu, details[open].move-menu, details[open][data-menu]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details[open].user-menu, details[open].move-menu, details[open][data-menu]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && !event.target.matches("input[type=search], input[type=text]")) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // Success messages fade away; errors stay until dismissed.
  document.querySelectorAll(".message-success, .message-info").forEach(function (item) {
    setTimeout(function () { item.remove(); }, 6000);
  });

  document.body.addEventListener("dealflow:toast", function (event) {
    var detail = event.detail || {};
    toast(detail.text || detail.value, detail.level, detail.undo);
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.getResponseHeader("HX-Trigger")) return;  // the server already sent a toast
    var text = "";
    try { text = JSON.parse(xhr.responseText).detail; } catch (error) { text = ""; }
    toast(text || (xhr.status + " " + xhr.statusText), "error");
  });
  document.body.addEventListener("htmx:sendError", function () {
    toast(document.documentElement.lang === "nl" ? "Geen verbinding met de server." : "Could not reach the server.", "error");
  });
})();
