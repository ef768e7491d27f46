// One-on-one notes: nothing typed is lost (issue #13).
// - Each notes box saves itself (htmx, 0.8 s after typing stops) and its own part only: the shared notes
//   and the private note go to the server separately, and saving one never reloads the other.
// - "Mark as held" carries both boxes' text along, so the server saves what was typed before closing.
// - Leaving the page while a box holds unsaved text asks first.
(function () {
  "use strict";
  const edits = new Map(); // textarea -> edits not yet confirmed saved

  function boxOf(element) {
    const form = element.closest("[data-notes-form]");
    return form ? form.querySelector("[data-note]") : null;
  }

  function status(box, text) {
    const line = box.closest("form").querySelector("[data-note-status]");
    if (line) line.textContent = text;
  }

  document.querySelectorAll("[data-note]").forEach(function (box) {
    box.addEventListener("input", function () {
      edits.set(box, (edits.get(box) || 0) + 1);
      status(box, box.dataset.unsavedText || "…");
    });
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const box = boxOf(event.detail.elt);
    if (box) event.detail.elt.dataset.sentEdits = String(edits.get(box) || 0);
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    const box = boxOf(event.detail.elt);
    if (!box) return;
    const xhr = event.detail.xhr;
    status(box, xhr ? xhr.responseText : "");
    const sent = Number(event.detail.elt.dataset.sentEdits || "0");
    if (event.detail.successful && (edits.get(box) || 0) === sent) edits.delete(box);
  });

  const complete = document.querySelector("[data-complete-form]");
  if (complete) {
    complete.addEventListener("submit", function () {
      document.querySelectorAll("[data-note]").forEach(function (box) {
        const carried = complete.querySelector(
          box.dataset.note === "private" ? "[name=private_note]" : "[name=shared_notes]"
        );
        carried.value = box.value;
        carried.disabled = false;
      });
      edits.clear(); // carried along: nothing is left unsaved
    });
  }

  window.addEventListener("beforeunload", function (event) {
    if (edits.size === 0) return;
    event.preventDefault();
    event.returnValue = "";
  });
})();
