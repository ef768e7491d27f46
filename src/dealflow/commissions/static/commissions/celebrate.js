// The board's win celebration: a short banner after a card dropped on "Won" was saved (the banner element
// is only on the page when the user keeps celebrations on).
(function () {
  var pendingWin = false;
  document.addEventListener("drop", function (event) {
    pendingWin = !!(event.target instanceof Element && event.target.closest('[data-drop-outcome="won"]'));
  }, true);
  document.addEventListener("htmx:afterRequest", function (event) {
    var banner = document.getElementById("win-celebration");
    if (!pendingWin || !banner || !event.detail.successful) return;
    pendingWin = false;
    banner.hidden = false;
    setTimeout(function () { banner.hidden = true; }, 1500);
  });
})();
