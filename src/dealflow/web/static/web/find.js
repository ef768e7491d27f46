/* Dealflow: pickers (organization/person autocomplete), the global search (press "/" or Ctrl-K) and the
   Undo bar. No inline script (CSP): pages opt in with data- attributes.
   - [data-picker]: a text box whose HTMX suggestions are buttons [data-pick="name"]; a click fills the box.
   - [data-search-dialog]: the search dialog opened by "/" or Ctrl-K (Cmd-K); its box asks as you type. */
(function () {
  "use strict";

  function closeOptions(picker) {
    var list = picker.querySelector(".picker-options");
    if (list) list.innerHTML = "";
    var box = picker.querySelector("input[role=combobox]");
    if (box) box.setAttribute("aria-expanded", "false");
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var option = target.closest("[data-pick]");
    if (option) {
      var picker = option.closest("[data-picker]");
      var box = picker && picker.querySelector("input[role=combobox]");
      if (box) {
        box.value = option.getAttribute("data-pick");
        box.setAttribute("data-picked-id", option.getAttribute("data-pick-id") || "");
        box.dispatchEvent(new Event("change", { bubbles: true }));
        closeOptions(picker);
        box.focus();
      }
      event.preventDefault();
      return;
    }
    document.querySelectorAll("[data-picker]").forEach(function (picker) {
      if (!picker.contains(target)) closeOptions(picker);
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    // Arrow keys walk a picker's suggestions; Escape closes them.
    var picker = target instanceof Element && target.closest ? target.closest("[data-picker]") : null;
    if (picker) {
      var buttons = Array.prototype.slice.call(picker.querySelectorAll("[data-pick]"));
      var index = buttons.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && buttons.length) {
        event.preventDefault();
        buttons[Math.min(index + 1, buttons.length - 1)].focus();
        return;
      }
      if (event.key === "ArrowUp" && buttons.length) {
        event.preventDefault();
        if (index <= 0) picker.querySelector("input[role=combobox]").focus(); else buttons[index - 1].focus();
        return;
      }
      if (event.key === "Escape") { closeOptions(picker); return; }
    }
    // "/" (outside a text field) or Ctrl-K / Cmd-K opens the global search.
    var typing = target instanceof Element && target.matches("input, textarea, select, [contenteditable=true]");
    var wantsSearch = ((event.ctrlKey || event.metaKey) && (event.key === "k" || event.key === "K")) ||
      (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey);
    if (wantsSearch) {
      var dialog = document.querySelector("[data-search-dialog]");
      if (!dialog || !dialog.showModal) return;
      event.preventDefault();
      if (!dialog.open) dialog.showModal();
      var input = dialog.querySelector("input[type=search]");
      if (input) { input.focus(); input.select(); }
      return;
    }
    // In the search dialog, arrow keys walk the results.
    var searchDialog = target instanceof Element && target.closest ? target.closest("[data-search-dialog]") : null;
    if (searchDialog && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      var links = Array.prototype.slice.call(searchDialog.querySelectorAll("[data-search-result]"));
      if (!links.length) return;
      event.preventDefault();
      var at = links.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? Math.min(at + 1, links.length - 1) : at - 1;
      if (next < 0) searchDialog.querySelector("input[type=search]").focus(); else links[next].focus();
    }
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (list && list.classList && list.classList.contains("picker-options")) {
      var box = list.closest("[data-picker]").querySelector("input[role=combobox]");
      if (box) box.setAttribute("aria-expanded", list.children.length ? "true" : "false");
    }
  });

  // The Undo bar: a message with [data-undo-until] disappears when its time is up.
  function expireUndo() {
    document.querySelectorAll("[data-undo-until]").forEach(function (bar) {
      var until = Date.parse(bar.getAttribute("data-undo-until"));
      if (!isNaN(until) && Date.now() > until) bar.remove();
    });
  }
  setInterval(expireUndo, 1000);
})();
