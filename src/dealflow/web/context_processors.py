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
    ("web:organization_list", _("Organizations")),
    ("web:person_list", _("People")),
    ("web:my_activities", _("Activities")),
    ("web:dashboard", _("Dashboard")),
    ("web:forecast", _("Forecast")),
    ("web:review_list", _("Reviews")),
    ("web:people_home", _("Team pulse")),
    ("web:import_start", _("Import")),
]
# Shown to admins only (the pages answer 403 to anyone else).
ADMIN_NAVIGATION = [
    ("web:settings", _("Settings")),
    ("web:audit_log", _("Audit log")),
    ("web:merge_list", _("Merges")),
]


def _links(entries) -> list[dict]:
    links = []
    for name, label in entries:
        try:
            links.append({"url": reverse(name), "label": label, "name": name})
        except NoReverseMatch:
            continue
    return links


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": []}
    from dealflow.accounts.selectors import user_is_admin

    entries = NAVIGATION + ADMIN_NAVIGATION if user_is_admin(user=request.user) else NAVIGATION
    return {"navigation": _links(entries)}
