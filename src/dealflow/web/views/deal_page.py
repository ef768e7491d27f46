"""What the deal page renders with: the signed snapshot of the values a user saw and the conflict report
built from it (see deal.py), the timeline, the stage bar and the workspace context, and applying one
step with its conflict handling.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealflow.accounts.models import User
from dealflow.automation.selectors import rule_runs_for_deal
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from dealflow.core.formatting import format_money, format_number
from dealflow.core.money import from_minor, to_minor
from dealflow.core.parameters import is_number
from dealflow.deals.models import (
    Deal,
    DealEvent,
    DealStatus,
    EventKind,
    ForecastCategory,
    StageKind,
)
from dealflow.deals.selectors import (
    activity_list_for_user,
    deal_check_can_edit,
    deal_get_for_user,
    deal_list_events_for_user,
    stage_list,
)
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.deals import (
    DEAL_FIELD_FORMS,
    DealActionForm,
    DealActivityForm,
    DealFieldForm,
    DealLostForm,
    DealReopenForm,
    DealWonForm,
)
from dealflow.web.views.contents import contents_context
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    is_htmx,
    posted_version,
)

SNAPSHOT_SALT = "dealflow.web.deal-snapshot"

# The values a conflict compares, in display order.
DEAL_VALUE_LABELS = {
    "title": gettext_lazy("Title"),
    "stage": gettext_lazy("Stage"),
    "status": gettext_lazy("Status"),
    "amount": gettext_lazy("Amount"),
    "expected_close_on": gettext_lazy("Expected close"),
    "owner": gettext_lazy("Owner"),
    "organization": gettext_lazy("Organization"),
    "person": gettext_lazy("Contact person"),
    "source": gettext_lazy("Source"),
    "probability": gettext_lazy("Probability override"),
    "forecast_category": gettext_lazy("Forecast category override"),
    "next_step": gettext_lazy("Next step"),
    "next_step_on": gettext_lazy("Next step by"),
    "lost_reason": gettext_lazy("Lost reason"),
    "lost_note": gettext_lazy("Lost note"),
}


def deal_values(deal: Deal) -> dict[str, str]:
    """The deal's user-visible values as plain strings (language-neutral, so a snapshot compares)."""
    return {
        "title": deal.title,
        "stage": deal.stage.name,
        "status": deal.status,
        "amount": f"{from_minor(deal.amount_minor, deal.currency)} {deal.currency}",
        "expected_close_on": deal.expected_close_on.isoformat() if deal.expected_close_on else "",
        "owner": deal.owner.display_name,
        "organization": deal.organization.name if deal.organization else "",
        "person": str(deal.person) if deal.person else "",
        "source": deal.source.name if deal.source else "",
        "probability": "" if deal.probability_override is None else str(deal.probability_override),
        "forecast_category": deal.forecast_category_override,
        "next_step": deal.next_step,
        "next_step_on": deal.next_step_on.isoformat() if deal.next_step_on else "",
        "lost_reason": deal.lost_reason.name if deal.lost_reason else "",
        "lost_note": deal.lost_note,
    }


def _snapshot(deal: Deal) -> str:
    return signing.dumps(
        {"version": deal.version, "values": deal_values(deal)}, salt=SNAPSHOT_SALT, compress=True
    )


def _snapshot_values(token: str | None) -> dict[str, str] | None:
    try:
        return signing.loads(token or "", salt=SNAPSHOT_SALT)["values"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


def _value_label(key: str, value: str) -> str:
    if not value:
        return ""
    if key == "status" and value in DealStatus.values:
        return str(DealStatus(value).label)
    if key == "forecast_category" and value in ForecastCategory.values:
        return str(ForecastCategory(value).label)
    if key == "probability":
        return f"{value}%"
    return value


def _conflict(request: AuthenticatedRequest, deal: Deal, submitted: dict[str, str]) -> dict[str, Any]:
    """What changed since the user opened the deal (theirs) next to what the user sent (yours)."""
    was = _snapshot_values(request.POST.get("snapshot"))
    now = deal_values(deal)
    rows = []
    for key, label in DEAL_VALUE_LABELS.items():
        changed = was is not None and was.get(key, "") != now[key]
        if changed or key in submitted:
            rows.append(
                {
                    "key": key,
                    "label": label,
                    "was": _value_label(key, was.get(key, "")) if was is not None else None,
                    "theirs": _value_label(key, now[key]),
                    "yours": _value_label(key, submitted[key]) if key in submitted else None,
                    "is_changed": changed,
                }
            )
    resubmit = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in {"csrfmiddlewaretoken", "version", "snapshot"}
        for value in values
    ]
    return {
        "rows": rows,
        "has_snapshot": was is not None,
        "action": request.path,
        "resubmit": resubmit,
        "current_version": deal.version,
    }


# ---- Page context -------------------------------------------------------------------------------


def _event_values(events: list[DealEvent]) -> dict[int, str]:
    owner_ids = {
        int(value)
        for event in events
        if event.kind == EventKind.OWNER_CHANGED
        for value in (event.from_value, event.to_value)
        if is_number(str(value))
    }
    if not owner_ids:
        return {}
    return {user.pk: user.display_name for user in User.objects.filter(pk__in=owner_ids)}


def _custom_fields_of(events: list[DealEvent]) -> dict[str, Any]:
    """The deal custom fields named by ``custom.<key>`` events (one query, only when there are any)."""
    from dealflow.customfields.models import CustomField

    keys = {event.field[7:] for event in events if (event.field or "").startswith("custom.")}
    if not keys:
        return {}
    return {field.key: field for field in CustomField.objects.filter(entity="deal", key__in=keys)}


def _custom_display(field: Any, value: str) -> Any:
    """A custom field's stored text (``52150.00``, ``yes``, ``2026-10-01``) in the reader's formats."""
    if not value or field is None:
        return value
    try:
        if field.kind in ("number", "money"):
            exponent = Decimal(value).as_tuple().exponent  # "n", "N" or "F" for NaN and infinity
            number = format_number(value, max(0, -exponent) if isinstance(exponent, int) else 0)
            return f"{number} {field.currency}" if field.kind == "money" and field.currency else number
        if field.kind == "date":
            return dt.date.fromisoformat(value)
    except (ArithmeticError, ValueError):
        return value
    if field.kind == "checkbox":
        return _("Yes") if value == "yes" else _("No") if value == "no" else value
    return value


def _amount_display(value: str) -> str:
    """``52150.00 EUR`` (as the event stores it) -> ``€ 52.150,00`` in Dutch."""
    amount, _space, currency = value.partition(" ")
    try:
        return format_money(to_minor(amount, currency), currency) if currency else value
    except (ApplicationError, ArithmeticError, ValueError):
        return value


def _display(
    event: DealEvent, value: str, names: dict[int, str], fields: dict[str, Any] | None = None
) -> Any:
    if event.kind == EventKind.AMOUNT_CHANGED and value:
        return _amount_display(value)
    if (event.field or "").startswith("custom.") and fields is not None:
        return _custom_display(fields.get(event.field[7:]), value)
    if event.kind == EventKind.OWNER_CHANGED and is_number(value):
        return names.get(int(value), value)
    if event.kind == EventKind.CLOSE_DATE_CHANGED and value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if event.kind == EventKind.CATEGORY_CHANGED and value in ForecastCategory.values:
        return ForecastCategory(value).label
    if event.kind == EventKind.PROBABILITY_CHANGED and value:
        return f"{value}%"
    if event.kind == EventKind.REOPENED and value in DealStatus.values:
        return DealStatus(value).label
    return value


def _timeline(deal: Deal, user: User) -> tuple[list[dict[str, Any]], list[Any]]:
    """History newest first (events and done activities) and the planned activities, soonest first."""
    events = list(deal_list_events_for_user(deal_id=deal.pk, user=user))
    activities = list(activity_list_for_user(user=user, deal_id=deal.pk))
    names = _event_values(events)
    fields = _custom_fields_of(events)
    items: list[dict[str, Any]] = [
        {
            "type": "event",
            "at": event.occurred_at,
            "event": event,
            "from": _display(event, event.from_value, names, fields),
            "to": _display(event, event.to_value, names, fields),
            "field": getattr(fields.get((event.field or "")[7:]), "label", None)
            if (event.field or "").startswith("custom.")
            else None,
        }
        for event in events
    ]
    items += [
        {"type": "activity", "at": activity.done_at, "activity": activity}
        for activity in activities
        if activity.done_at is not None
    ]
    # What automation rules did to the deal (their changes are also events above, with origin rule:<id>).
    items += [
        {"type": "rule", "at": run.created_at, "run": run} for run in rule_runs_for_deal(deal_id=deal.pk)
    ]
    items.sort(key=lambda item: item["at"], reverse=True)
    planned = sorted(
        (activity for activity in activities if activity.done_at is None),
        key=lambda activity: (activity.due_at is None, activity.due_at or activity.created_at),
    )
    return items, planned


def _stage_bar(deal: Deal, stages: list[Any]) -> list[dict[str, Any]]:
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN and stage.is_active]
    current_order = deal.stage.order if deal.stage.kind == StageKind.OPEN else None
    bar = []
    for stage in open_stages:
        if deal.status == DealStatus.WON:
            state = "done"
        elif current_order is None:
            state = "upcoming"
        elif stage.pk == deal.stage_id:
            state = "current"
        else:
            state = "done" if stage.order < current_order else "upcoming"
        bar.append({"stage": stage, "state": state})
    if deal.stage.kind == StageKind.OPEN and not any(item["state"] == "current" for item in bar):
        bar.append({"stage": deal.stage, "state": "current"})  # a deal in a retired stage
    return bar


def _can_edit(deal: Deal, user: User) -> bool:
    try:
        deal_check_can_edit(deal=deal, user=user)
    except PermissionDeniedError:
        return False
    return True


def workspace_context(
    request: AuthenticatedRequest,
    deal: Deal,
    *,
    failed: tuple[str, forms.Form] | None = None,
    conflict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    user = request.user
    failed_key, failed_form = failed if failed else ("", None)
    field_forms = {
        key: failed_form if key == failed_key else form_class(user=user, deal=deal)
        for key, form_class in DEAL_FIELD_FORMS.items()
    }
    stages = list(stage_list(pipeline_id=deal.pipeline_id, include_inactive=True))
    timeline, planned = _timeline(deal, user)
    return {
        "deal": deal,
        "can_edit": _can_edit(deal, user),
        "snapshot": _snapshot(deal),
        "field_forms": field_forms,
        "stage_bar": _stage_bar(deal, stages),
        "current_stage": deal.stage,
        "timeline": timeline,
        "planned": planned,
        "lost_form": failed_form if failed_key == "lost" else DealLostForm(deal=deal),
        "won_form": failed_form if failed_key == "won" else DealWonForm(deal=deal),
        "reopen_form": failed_form if failed_key == "reopen" else DealReopenForm(deal=deal),
        "stage_form": failed_form if failed_key == "stage" else None,
        "activity_form": failed_form if failed_key == "activity" else DealActivityForm(),
        "failed": failed_key,
        "conflict": conflict,
        "now": clock.now(),
        "today": clock.today(),
        "forecast_category_label": _category_label(deal),
        **contents_context(request, deal),  # lines, quotes, custom fields, tags (web/views/contents.py)
    }


def _category_label(deal: Deal) -> str:
    label = str(ForecastCategory(deal.forecast_category).label)
    if deal.forecast_category_override and deal.is_open:
        return _("%(category)s (set by hand)") % {"category": label}
    return label


def _render_workspace(
    request: AuthenticatedRequest, deal_id: int, *, status: int = 200, **extra: Any
) -> HttpResponse:
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    context = workspace_context(request, deal, **extra)
    if is_htmx(request):
        # HTMX swaps only 2xx answers: errors and conflicts come back as 200 with the messages inside.
        return render(request, "web/deal/_workspace.html", context)
    return render(request, "web/deal/detail.html", context, status=status)


def perform(
    request: AuthenticatedRequest,
    deal: Deal,
    key: str,
    form: DealFieldForm | DealActionForm | forms.Form,
    action: Callable[[int | None], Any],
    *,
    success: str | Callable[[], str],
) -> HttpResponse:
    """Run one service for a valid form; answer with the workspace, a field error or the conflict.
    ``success`` may be a function, to word the message after the service has run."""
    if form.is_valid():
        try:
            with transaction.atomic():
                action(posted_version(request))
        except ConflictError:
            current = deal_get_for_user(deal_id=deal.pk, user=request.user)
            submitted = form.submitted_values() if hasattr(form, "submitted_values") else {}
            return _render_workspace(
                request, deal.pk, status=409, conflict=_conflict(request, current, submitted)
            )
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            if callable(success):
                success = success()
            if is_htmx(request):
                response = _render_workspace(request, deal.pk)
                response["HX-Trigger"] = json.dumps({"dealflow:toast": {"text": success, "level": "success"}})
                return response
            messages.success(request, success)
            return HttpResponseRedirect(reverse("web:deal_detail", args=[deal.pk]))
    return _render_workspace(request, deal.pk, status=400, failed=(key, form))
