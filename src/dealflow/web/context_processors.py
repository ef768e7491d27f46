"""The navigation bar: each area appears once its URL exists (areas are built by different modules)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

NAVIGATION = [
    ("web:home", _("Board")),
    ("web:forecast_board", _("Forecast board")),
    ("web:funnel", _("Funnel")),
    ("web:deal_list", _("Deals")),
    ("web:lead_inbox", _("Leads")),
    ("web:my_activities", _("Activities")),
    ("web:dashboard", _("Dashboard")),
    ("web:forecast", _("Forecast")),
    ("web:review_list", _("Reviews")),
    ("web:people_home", _("Team pulse")),
    ("web:import_start", _("Import")),
]


def _links() -> list[dict]:
    links = []
    for name, label in NAVIGATION:
        try:
            links.append({"url": reverse(name), "label": label, "name": name})
        except NoReverseMatch:
            continue
    return links


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": []}
    return {"navigation": _links()}
