"""Automation rules (with the dry run before saving) and webhook subscriptions (with their delivery log)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.automation.models import Action, Trigger, WebhookEventType
from dealflow.automation.selectors import (
    attempt_list,
    delivery_list,
    rule_get_for_user,
    rule_list_for_user,
    rule_run_list,
    subscription_get_for_user,
    subscription_list_for_user,
)
from dealflow.automation.services import (
    SUBSCRIBABLE_EVENTS,
    rule_create,
    rule_delete,
    rule_dry_run_unsaved,
    rule_update,
    subscription_create,
    subscription_delete,
    subscription_resume,
    subscription_rotate_secret,
    subscription_update,
)
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import ActivityKind, LeadSource, Stage
from dealflow.web.forms import form_add_application_error, model_choice_field
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403

RECIPIENT_LABELS = {
    "owner": gettext_lazy("The deal's owner"),
    "team_managers": gettext_lazy("The team's managers"),
    "user": gettext_lazy("A person"),
}
FIELD_LABELS = {
    "next_step": gettext_lazy("Next step (text)"),
    "probability_override": gettext_lazy("Probability (0-100)"),
    "forecast_category_override": gettext_lazy("Forecast category (pipeline, best_case, commit, omitted)"),
    "expected_close_in_days": gettext_lazy("Expected close: in N days"),
}
# Form field -> the service's field name, so a service error lands next to the right input.
FIELD_MAP = {
    "due_in_days": "due_in_days",
    "team_id": "assign_team",
    "user_id": "notify_user",
    "subscription_id": "subscription",
    "kind": "activity_kind",
}


class StageChoiceField(forms.ModelChoiceField[Stage]):
    """Open stages of every pipeline, labelled "Pipeline: Stage"."""

    def label_from_instance(self, obj: Stage) -> str:
        return f"{obj.pipeline.name}: {obj.name}"


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("Whole company"),
        help_text=gettext_lazy("A team's rule acts only on that team's deals and leads."),
    )
    trigger = forms.ChoiceField(label=gettext_lazy("When"), choices=Trigger.choices)
    stage = StageChoiceField(label=gettext_lazy("Stage"), queryset=Stage.objects.none(), required=False)
    days = forms.IntegerField(label=gettext_lazy("Days"), required=False, min_value=1)
    amount = forms.DecimalField(label=gettext_lazy("Amount"), required=False, min_value=0)
    currency = forms.CharField(label=gettext_lazy("Currency"), required=False, initial="EUR", max_length=3)
    source = forms.ModelChoiceField(
        label=gettext_lazy("Lead source"), queryset=LeadSource.objects.all(), required=False
    )
    action = forms.ChoiceField(label=gettext_lazy("Then"), choices=Action.choices)
    subject = forms.CharField(label=gettext_lazy("Activity subject"), required=False, max_length=200)
    activity_kind = forms.ChoiceField(
        label=gettext_lazy("Activity kind"),
        choices=ActivityKind.choices,
        initial=ActivityKind.TASK,
        required=False,
    )
    due_in_days = forms.IntegerField(
        label=gettext_lazy("Due after (days)"), required=False, initial=0, min_value=0
    )
    assign_team = forms.ModelChoiceField(
        label=gettext_lazy("Team whose reps take turns"), queryset=Team.objects.none(), required=False
    )
    field = forms.ChoiceField(
        label=gettext_lazy("Field to set"),
        choices=[("", "—"), *FIELD_LABELS.items()],
        required=False,
    )
    value = forms.CharField(label=gettext_lazy("Value"), required=False, max_length=200)
    recipient = forms.ChoiceField(
        label=gettext_lazy("Notify"), choices=list(RECIPIENT_LABELS.items()), required=False
    )
    notify_user = forms.ModelChoiceField(
        label=gettext_lazy("Person to notify"), queryset=User.objects.none(), required=False
    )
    message = forms.CharField(label=gettext_lazy("Message"), required=False, max_length=300)
    subscription = forms.ModelChoiceField(
        label=gettext_lazy("Webhook subscription"), queryset=Team.objects.none(), required=False
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        scope = user_access_scope(user=user)
        teams = Team.objects.all() if scope.is_admin else Team.objects.filter(pk__in=scope.managed_team_ids)
        team = model_choice_field(self, "team")
        team.queryset = teams
        model_choice_field(self, "assign_team").queryset = teams
        if not scope.is_admin:
            team.required = True
            team.empty_label = None
        model_choice_field(self, "stage").queryset = Stage.objects.filter(
            kind="open", is_active=True
        ).select_related("pipeline")
        model_choice_field(self, "notify_user").queryset = User.objects.filter(
            is_active=True, memberships__team__in=teams
        ).distinct()
        model_choice_field(self, "subscription").queryset = subscription_list_for_user(user=user)

    def rule_data(self) -> dict[str, Any]:
        """The service's input: the trigger's values and only the chosen action's parameters."""
        data = self.cleaned_data
        action = data["action"]
        params: dict[str, Any] = {}
        if action == Action.CREATE_ACTIVITY:
            params = {
                "subject": data.get("subject") or "",
                "kind": data.get("activity_kind") or ActivityKind.TASK,
                "due_in_days": data.get("due_in_days") or 0,
            }
        elif action == Action.ASSIGN_OWNER:
            params = {"team_id": data["assign_team"].pk if data.get("assign_team") else None}
        elif action == Action.SET_FIELD:
            params = {"field": data.get("field") or "", "value": data.get("value")}
        elif action == Action.NOTIFY:
            params = {"recipient": data.get("recipient") or "owner", "message": data.get("message") or ""}
            if params["recipient"] == "user":
                params["user_id"] = data["notify_user"].pk if data.get("notify_user") else None
        elif action == Action.WEBHOOK:
            params = {"subscription_id": data["subscription"].pk if data.get("subscription") else None}
        return {
            "name": data["name"],
            "team": data.get("team"),
            "trigger": data["trigger"],
            "stage": data.get("stage"),
            "days": data.get("days"),
            "amount": data.get("amount"),
            "currency": data.get("currency") or "EUR",
            "source": data.get("source"),
            "action": action,
            "params": params,
        }


def _check_may_manage_rules(user: User) -> None:
    scope = user_access_scope(user=user)
    if not (scope.is_admin or scope.managed_team_ids):
        raise PermissionDenied(_("Only admins and managers manage automation rules."))


@login_required
@require_GET
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    scope = user_access_scope(user=request.user)
    context = {
        "rules": rule_list_for_user(user=request.user),
        "may_create": scope.is_admin or bool(scope.managed_team_ids),
    }
    return render(request, "automation/rules.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_new(request: AuthenticatedRequest) -> HttpResponse:
    """The rule form: "Dry run" shows what it would have done in the last 90 days; "Save" creates it."""
    _check_may_manage_rules(request.user)
    form = RuleForm(request.POST or None, user=request.user)
    dry_run = None
    if request.method == "POST" and form.is_valid():
        try:
            if "save" in request.POST:
                rule = rule_create(by=request.user, data=form.rule_data())
                messages.success(request, _("Rule “%(name)s” saved and active.") % {"name": rule.name})
                return HttpResponseRedirect(reverse("web:automation_rule", args=[rule.pk]))
            dry_run = rule_dry_run_unsaved(by=request.user, data=form.rule_data())
        except ApplicationError as error:
            form_add_application_error(form, error, field_map=FIELD_MAP)
    status = 400 if form.errors else 200
    return render(request, "automation/rule_form.html", {"form": form, "dry_run": dry_run}, status=status)


@login_required
@require_GET
def rule_detail(request: AuthenticatedRequest, rule_id: int) -> HttpResponse:
    rule = rule_get_for_user(rule_id=rule_id, user=request.user)
    runs = list(rule_run_list(rule=rule)[:100])
    return render(request, "automation/rule.html", {"rule": rule, "runs": runs})


@login_required
@require_POST
@permission_errors_as_403
def rule_toggle(request: AuthenticatedRequest, rule_id: int) -> HttpResponse:
    rule = rule_get_for_user(rule_id=rule_id, user=request.user)
    rule_update(rule=rule, by=request.user, data={"is_active": not rule.is_active})
    return HttpResponseRedirect(reverse("web:automation_rule", args=[rule.pk]))


@login_required
@require_POST
@permission_errors_as_403
def rule_delete_view(request: AuthenticatedRequest, rule_id: int) -> HttpResponse:
    rule = rule_get_for_user(rule_id=rule_id, user=request.user)
    rule_delete(rule=rule, by=request.user)
    messages.success(request, _("Rule deleted."))
    return HttpResponseRedirect(reverse("web:automation_rules"))


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    url = forms.CharField(label=gettext_lazy("URL"), max_length=500)
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(value, WebhookEventType(value).label) for value in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: AuthenticatedRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription, _secret = subscription_create(by=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Subscription created. Copy its signing secret below."))
            return HttpResponseRedirect(reverse("web:automation_webhook", args=[subscription.pk]))
    context = {"form": form, "subscriptions": subscription_list_for_user(user=request.user)}
    return render(request, "automation/webhooks.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def webhook_detail(request: AuthenticatedRequest, subscription_id: int) -> HttpResponse:
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    context = {
        "subscription": subscription,
        "deliveries": list(delivery_list(subscription=subscription).select_related(None)[:50]),
        "attempts": attempt_list(subscription=subscription, limit=50),
    }
    return render(request, "automation/webhook.html", context)


@login_required
@require_POST
def webhook_action(request: AuthenticatedRequest, subscription_id: int, action: str) -> HttpResponse:
    """resume, toggle (on/off), secret (rotate) or delete."""
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    if action == "resume":
        subscription_resume(subscription=subscription, by=request.user)
        messages.success(request, _("Resumed: waiting deliveries go out now."))
    elif action == "toggle":
        subscription_update(
            subscription=subscription, by=request.user, data={"is_active": not subscription.is_active}
        )
    elif action == "secret":
        subscription_rotate_secret(subscription=subscription, by=request.user)
        messages.success(request, _("New signing secret made; update your receiver."))
    elif action == "delete":
        subscription_delete(subscription=subscription, by=request.user)
        messages.success(request, _("Subscription deleted."))
        return HttpResponseRedirect(reverse("web:automation_webhooks"))
    else:
        raise Http404("No such action.")
    return HttpResponseRedirect(reverse("web:automation_webhook", args=[subscription.pk]))
