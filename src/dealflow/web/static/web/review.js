/* Pipeline review pages (CSP forbids inline script; pages opt in with data- attributes).

   Deal card (<main data-review-card>):
     j or ArrowRight  next deal            k or ArrowLeft  previous deal
     1-9              pick a decision (the radio with data-key="n") and focus its first field
     Ctrl/Cmd+Enter   record and apply      a  record and apply (outside a field)
     w                focus the what-if form        Esc  leave a field        ?  show or hide the keys
   Links carry data-key-next / data-key-previous; a decision radio carries data-key="1".."9" and
   data-kind; fields carry data-for-kinds="push_close_date move_stage" and are shown for those kinds.
   Review page: [data-select-all="name"] ticks every checkbox named name in its form. */
(function () {
  "use strict";

  function typing(target) {
    if (!(target instanceof Element)) return false;
    return target.matches("input, textarea, select, [contenteditable=true]");
  }

  function showFieldsFor(form, kind) {
    form.querySelectorAll("[data-for-kinds]").forEach(function (field) {
      var kinds = field.getAttribute("data-for-kinds").split(" ");
      field.hidden = kinds.indexOf(kind) === -1;
    });
  }

  function pick(form, radio) {
    radio.checked = true;
    var kind = radio.getAttribute("data-kind");
    showFieldsFor(form, kind);
    var first = form.querySelector("[data-for-kinds]:not([hidden]) input, [data-for-kinds]:not([hidden]) select");
    (first || form.querySelector("[name=note]") || radio).focus();
  }

  function submitApply(form) {
    var button = form.querySelector("button[name=apply][value='1']");
    if (button) {
      if (form.requestSubmit) form.requestSubmit(button); else button.click();
    }
  }

  var card = document.querySelector("[data-review-card]");
  var decisionForm = document.querySelector("form[data-decision-form]");
  if (decisionForm) {
    var checked = decisionForm.querySelector("input[name=kind]:checked");
    showFieldsFor(decisionForm, checked ? checked.getAttribute("data-kind") : "keep");
    decisionForm.addEventListener("change", function (event) {
      if (event.target.name === "kind") showFieldsFor(decisionForm, event.target.getAttribute("data-kind"));
    });
  }

  if (card) {
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented) return;
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && decisionForm) {
        event.preventDefault();
        submitApply(decisionForm);
        return;
      }
      if (event.key === "Escape" && typing(event.target)) {
        event.target.blur();
        return;
      }
      if (typing(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
      var link = null;
      if (event.key === "j" || event.key === "ArrowRight") link = document.querySelector("[data-key-next]");
      if (event.key === "k" || event.key === "ArrowLeft") link = document.querySelector("[data-key-previous]");
      if (link) {
        event.preventDefault();
        window.location.assign(link.getAttribute("href"));
        return;
      }
      if (/^[1-9]$/.test(event.key) && decisionForm) {
        var radio = decisionForm.querySelector("input[name=kind][data-key='" + event.key + "']");
        if (radio) {
          event.preventDefault();
          pick(decisionForm, radio);
        }
        return;
      }
      if (event.key === "a" && decisionForm) {
        event.preventDefault();
        submitApply(decisionForm);
        return;
      }
      if (event.key === "w") {
        var whatIf = document.querySelector("[data-what-if] input");
        if (whatIf) { event.preventDefault(); whatIf.focus(); }
        return;
      }
      if (event.key === "?") {
        var help = document.querySelector("[data-key-help]");
        if (help) help.hidden = !help.hidden;
      }
    });
  }

  document.addEventListener("change", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-select-all]");
    if (!toggle) return;
    var name = toggle.getAttribute("data-select-all");
    var scope = toggle.closest("table") || document;
    scope.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
      box.checked = toggle.checked;
    });
  });
})();
