"""charts.js draws a Plotly chart from a json_script under the strict CSP, with Plotly from our own server."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def test_a_data_plotly_div_becomes_a_chart(signed_in_page, rep):
    page = signed_in_page(rep, path="/account/password/")
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    figure = {"data": [{"type": "funnel", "y": ["Leads", "Deals", "Won"], "x": [100, 40, 12]}], "layout": {}}
    page.evaluate(
        """figure => {
            const data = document.createElement("script");
            data.type = "application/json";
            data.id = "chart-data";
            data.textContent = JSON.stringify(figure);
            const div = document.createElement("div");
            div.className = "chart";
            div.setAttribute("data-plotly", "chart-data");
            document.querySelector("main").append(data, div);
            window.Dealflow.renderCharts(document);
        }""",
        figure,
    )
    page.wait_for_selector(".chart .main-svg")
    assert page.evaluate("typeof window.Plotly") == "object"
    assert json.loads(page.evaluate("JSON.stringify(window.Plotly.version)"))
    assert errors == []
