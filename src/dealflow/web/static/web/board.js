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

  function move(card, values) {
    card.classList.add("is-busy");
    var all = Object.assign(filterValues(), { version: card.getAttribute("data-version") }, values);
    return window.htmx.ajax("POST", card.getAttribute("data-move-url"), {
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

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var option = target.closest("[data-move-to]");
    var lost = target.closest("[data-lost-deal]");
    if (!option && !lost) return;
    var card = target.closest(".deal-card");
    var menu = target.closest("details");
    if (menu) menu.removeAttribute("open");
    if (lost) {
      openLost(card);
      return;
    }
    var values = {};
    values[option.getAttribute("data-move-field")] = option.getAttribute("data-move-to");
    move(card, values);
  });
})();
