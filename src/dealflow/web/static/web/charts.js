/* Renders every <div data-plotly="id-of-json-script"> with Plotly. The JSON (made with |json_script) holds
   {"data": [...], "layout": {...}, "config": {...}}. Plotly itself (served from the plotly package at
   /static/vendor/plotly.min.js) is loaded only on pages that have a chart.
   Optional: data-plotly-click="navigate" follows point.customdata (a URL, or [URL, ...]) on click;
   every click also dispatches a "dealflow:chart-click" event on the div with the point in event.detail. */
(function () {
  "use strict";
  var script = document.currentScript;
  var plotlySrc = (script && script.getAttribute("data-plotly-src")) || "/static/vendor/plotly.min.js";
  var loading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = plotlySrc;
      tag.onload = function () { resolve(window.Plotly); };
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
    return loading;
  }

  function render(div, Plotly) {
    var source = document.getElementById(div.getAttribute("data-plotly"));
    if (!source) return;
    var figure = JSON.parse(source.textContent);
    var layout = Object.assign({
      margin: { t: 30, r: 10, b: 40, l: 50 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2430" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      autosize: true
    }, figure.layout || {});
    var config = Object.assign({ responsive: true, displaylogo: false, displayModeBar: false }, figure.config || {});
    var done = div.getAttribute("data-plotly-rendered") ? Plotly.react(div, figure.data || [], layout, config)
                                                        : Plotly.newPlot(div, figure.data || [], layout, config);
    div.setAttribute("data-plotly-rendered", "1");
    Promise.resolve(done).then(function () {
      if (div.getAttribute("data-plotly-bound")) return;
      div.setAttribute("data-plotly-bound", "1");
      div.on("plotly_click", function (data) {
        var point = data.points && data.points[0];
        if (!point) return;
        div.dispatchEvent(new CustomEvent("dealflow:chart-click", { bubbles: true, detail: point }));
        if (div.getAttribute("data-plotly-click") === "navigate") {
          var target = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
          if (typeof target === "string" && target.charAt(0) === "/") window.location.assign(target);
        }
      });
    });
  }

  function renderWithin(root) {
    var divs = (root || document).querySelectorAll("[data-plotly]");
    if (!divs.length) return;
    loadPlotly().then(function (Plotly) { divs.forEach(function (div) { render(div, Plotly); }); });
  }

  window.Dealflow = window.Dealflow || {};
  window.Dealflow.renderCharts = renderWithin;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderWithin(document); });
  } else {
    renderWithin(document);
  }
  document.addEventListener("htmx:afterSettle", function (event) { renderWithin(event.target); });
})();
