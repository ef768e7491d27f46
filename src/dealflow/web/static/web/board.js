/* The boards: drag a card to another column (HTML5 drag and drop), to Won or Lost, or use the card's
   "Move to..." menu (keyboard and touch). Every move is one HTMX POST to the card's data-move-url with the
   board's filters; the answer removes the card, inserts it at the top of its new column and re-renders
   both column headers out of band. A refused move leaves the card where it was and shows a toast. */
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.htmx) return;
  var dropField = board.getAttribute("data-drop-field");  // "stage" or "month"
  var dragged = null;
  var lostDialog = document.getElementById("lost-dialog");
  var lostCard = null;

  function filterValues() {
    var values = {};
    var form = document.getElementById("board-filters");
    if (form) new FormData(form).forEach(function (value, key) { values[key] = value; });
    return values;
  }

  var moveUrl = board.getAttribute("data-move-url");  // "/board/deals/{0}/move/"
  var menu = document.getElementById("move-menu");

  function move(card, values) {
    closeMenu(false);
    card.classList.add("is-busy");
    var all = Object.assign(filterValues(), { version: card.getAttribute("data-version") }, values);
    return window.htmx.ajax("POST", moveUrl.replace("{0}", card.getAttribute("data-deal")), {
      source: card, target: card, swap: "outerHTML", values: all
    }).finally(function () { card.classList.remove("is-busy"); });
  }

  function openLost(card) {
    if (!lostDialog) return;
    lostCard = card;
    var form = lostDialog.querySelector("form");
    form.reset();
    var title = card.querySelector(".deal-title");
    lostDialog.querySelector("[data-lost-title]").textContent = title ? title.textContent : "";
    lostDialog.showModal();
    lostDialog.querySelector("select").focus();
  }

  // "Add an activity..." in a card's menu: a small form whose answer is the card, re-rendered.
  var activityDialog = document.getElementById("activity-dialog");
  var activityCard = null;
  function openActivity(card) {
    if (!activityDialog) return;
    activityCard = card;
    var form = activityDialog.querySelector("form");
    form.reset();
    var title = card.querySelector(".deal-title");
    activityDialog.querySelector("[data-activity-title]").textContent = title ? title.textContent : "";
    activityDialog.showModal();
    activityDialog.querySelector("#activity-subject").focus();
  }
  if (activityDialog) {
    activityDialog.querySelector("form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      if (!activityCard) return;
      var url = activityDialog.getAttribute("data-activity-url").replace("2147480001", activityCard.getAttribute("data-deal"));
      window.htmx.ajax("POST", url, {
        source: activityCard, target: activityCard, swap: "outerHTML",
        values: { kind: form.kind.value, subject: form.subject.value, due_at: form.due_at.value }
      });
      activityCard = null;
      activityDialog.close();
    });
  }

  if (lostDialog) {
    lostDialog.querySelector("form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      if (!lostCard) return;
      move(lostCard, { outcome: "lost", reason: form.reason.value, note: form.note.value });
      lostCard = null;
      lostDialog.close();
    });
  }

  function dropTarget(element) {
    return element instanceof Element ? element.closest("[data-drop], [data-drop-outcome]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target instanceof Element ? event.target.closest(".deal-card") : null;
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal"));
    card.classList.add("is-dragging");
    document.body.classList.add("is-dragging");
  });

  document.addEventListener("dragover", function (event) {
    var zone = dropTarget(event.target);
    if (!dragged || !zone) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    zone.classList.add("is-drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropTarget(event.target);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-drop-target");
  });

  document.addEventListener("drop", function (event) {
    var zone = dropTarget(event.target);
    if (!dragged || !zone) return;
    event.preventDefault();
    zone.classList.remove("is-drop-target");
    var card = dragged;
    var outcome = zone.getAttribute("data-drop-outcome");
    if (outcome === "lost") {
      openLost(card);
    } else if (outcome === "won") {
      move(card, { outcome: "won" });
    } else if (zone.getAttribute("data-column") !== card.getAttribute("data-column")) {
      var values = {};
      values[dropField] = zone.getAttribute("data-column");
      move(card, values);
    }
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    document.body.classList.remove("is-dragging");
    document.querySelectorAll(".is-drop-target").forEach(function (zone) { zone.classList.remove("is-drop-target"); });
  });

  // One "Move to..." menu per page, opened inside the card whose button was pressed (keyboard and touch).
  function openMenu(card, button) {
    if (!menu) return;
    closeMenu(false);
    var current = card.getAttribute("data-column");
    menu.querySelectorAll("[data-move-to]").forEach(function (option) {
      option.hidden = option.getAttribute("data-move-to") === current;
    });
    card.appendChild(menu);
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    var first = menu.querySelector(".menu-item:not([hidden])");
    if (first) first.focus();
  }

  function closeMenu(restoreFocus) {
    if (!menu || menu.hidden) return;
    var card = menu.closest(".deal-card");
    var button = card ? card.querySelector("[data-open-move-menu]") : null;
    menu.hidden = true;
    document.body.appendChild(menu);  // keep it out of cards that a move removes
    if (button) {
      button.setAttribute("aria-expanded", "false");
      if (restoreFocus) button.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var opener = target.closest("[data-open-move-menu]");
    if (opener) {
      var openCard = opener.closest(".deal-card");
      if (menu && !menu.hidden && menu.parentElement === openCard) closeMenu(true); else openMenu(openCard, opener);
      return;
    }
    var option = target.closest("#move-menu [data-move-to]");
    var lost = target.closest("#move-menu [data-lost-deal]");
    var addActivity = target.closest("#move-menu [data-add-activity]");
    if (addActivity) {
      var activityFor = target.closest(".deal-card");
      closeMenu(false);
      openActivity(activityFor);
      return;
    }
    if (!option && !lost) {
      if (menu && !menu.hidden && !menu.contains(target)) closeMenu(false);
      return;
    }
    var card = target.closest(".deal-card");
    if (lost) {
      closeMenu(false);
      openLost(card);
      return;
    }
    var values = {};
    values[option.getAttribute("data-move-field")] = option.getAttribute("data-move-to");
    move(card, values);
  });

  document.addEventListener("keydown", function (event) {
    if (!menu || menu.hidden) return;
    if (event.key === "Escape") {
      event.preventDefault();
      closeMenu(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var items = Array.prototype.filter.call(menu.querySelectorAll(".menu-item"), function (item) { return !item.hidden; });
      var index = items.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? index + 1 : index - 1;
      items[(next + items.length) % items.length].focus();
    }
  });
})();
