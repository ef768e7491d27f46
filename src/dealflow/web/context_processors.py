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
    ("web:automation_rules", _("Automation")),
    ("web:commission_earnings", _("Earnings")),
    ("web:trash", _("Trash")),
]
# Shown to admins only (the pages answer 403 to anyone else).
ADMIN_NAVIGATION = [
    ("web:settings", _("Settings")),
    ("web:audit_log", _("Audit log")),
    ("web:merge_list", _("Merges")),
    ("web:commission_plans", _("Commission plans")),
]


def _links(entries) -> list[dict]:
    links = []
    for name, label in entries:
        try:
            links.append({"url": reverse(name), "label": label, "name": name})
        except NoReverseMatch:
            continue
    return links


# Shown to admins and managers only: a rep or an analyst may not import (403), and pipeline reviews are the
# managers' meetings (a rep opens none of them).
MANAGER_NAVIGATION = {"web:import_start", "web:review_list"}


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": []}
    from dealflow.accounts.selectors import user_access_scope

    scope = user_access_scope(user=request.user)
    if scope.is_admin:
        entries = NAVIGATION + ADMIN_NAVIGATION
    elif scope.is_manager:
        entries = NAVIGATION
    else:
        entries = [entry for entry in NAVIGATION if entry[0] not in MANAGER_NAVIGATION]
    return {"navigation": _links(entries)}
