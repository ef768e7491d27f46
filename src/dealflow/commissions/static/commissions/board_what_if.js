// The board what-if: the server sends one hidden list of "Winning this adds EUR 1,240" per open deal of
// the user (only when the user switched it on); this puts each on its card, again after HTMX swaps cards
// (load more, a move), and leaves cards it has no amount for alone.
(function () {
  function place() {
    var list = document.getElementById("board-what-if");
    if (!list) return;
    list.querySelectorAll("li[data-deal]").forEach(function (item) {
      var card = document.querySelector('.deal-card[data-deal="' + item.dataset.deal + '"]');
      if (!card || card.querySelector("[data-what-if]")) return;
      var row = document.createElement("div");
      row.className = "deal-row what-if muted";
      row.setAttribute("data-what-if", "");
      row.textContent = item.textContent;
      var button = card.querySelector(".move-button");
      card.insertBefore(row, button);
    });
  }
  place();
  document.addEventListener("htmx:afterSettle", place);
})();
