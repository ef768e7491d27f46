"""`dealflow automation rules|rule|dry-run|toggle|runs|webhooks|webhook|resume|deliveries|run`: automation rules
and webhook subscriptions from a terminal, as a named user (the same rights as in the app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from dealflow.accounts.models import Team
from dealflow.automation.selectors import (
    delivery_list,
    rule_get_for_user,
    rule_list_for_user,
    rule_run_list,
    subscription_get_for_user,
    subscription_list_for_user,
)
from dealflow.automation.services import (
    rule_create,
    rule_dry_run_unsaved,
    rule_update,
    subscription_create,
    subscription_resume,
)
from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import LeadSource, Pipeline, Stage

RULE_EXAMPLE = (
    '{"name": "Follow up proposals", "trigger": "stage_entered", "stage": "Proposal", '
    '"action": "create_activity", "params": {"subject": "Chase", "due_in_days": 3}}'
)


def rule_data_from_json(text: str) -> dict[str, Any]:
    """A rule as JSON (inline or @file): stage, pipeline, team and source by name or key, the rest as in the API."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApplicationError(
            _("The rule is not valid JSON (line %(line)s): %(message)s")
            % {"line": error.lineno, "message": error.msg},
            field="rule",
        ) from error
    if not isinstance(raw, dict):
        raise ApplicationError(_("The rule must be a JSON object."), field="rule")
    data = dict(raw)
    lookups = {
        "pipeline": lambda value: Pipeline.objects.filter(name=value).first(),
        "stage": lambda value: (
            Stage.objects.filter(
                name=value, **({"pipeline__name": raw["pipeline"]} if raw.get("pipeline") else {})
            )
            .order_by("pipeline__order", "order")
            .first()
        ),
        "team": lambda value: Team.objects.filter(name=value).first(),
        "source": lambda value: LeadSource.objects.filter(key=value).first(),
    }
    for name, find in lookups.items():
        if data.get(name) is not None:
            data[name] = find(data[name])
            if data[name] is None:
                raise ApplicationError(
                    _("No %(name)s %(value)r.") % {"name": name, "value": raw[name]}, field=name
                )
    return data


class Command(DealflowCommand):
    help = _(
        "Automation rules and webhook subscriptions; `run` does one pass of the worker's dispatch and delivery."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help=_("Act as this user (default: the first superuser)."))
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("rules", help=_("List the rules you may see."))
        for name, text in (
            ("rule", _("Create a rule from JSON.")),
            ("dry-run", _("Dry-run a rule from JSON.")),
        ):
            command = actions.add_parser(name, help=text)
            command.add_argument(
                "json", help=_("The rule as JSON, or @file. Example: %(example)s") % {"example": RULE_EXAMPLE}
            )
        toggle = actions.add_parser("toggle", help=_("Switch a rule on or off."))
        toggle.add_argument("rule_id", type=int)
        runs = actions.add_parser("runs", help=_("What a rule did, newest first."))
        runs.add_argument("rule_id", type=int)
        actions.add_parser("webhooks", help=_("List your webhook subscriptions."))
        webhook = actions.add_parser("webhook", help=_("Subscribe a URL to event types; prints its secret."))
        webhook.add_argument("name")
        webhook.add_argument("url")
        webhook.add_argument("--events", required=True, help=_("Comma-separated, e.g. deal.won,deal.lost."))
        resume = actions.add_parser("resume", help=_("Resume a subscription paused after failures."))
        resume.add_argument("subscription_id", type=int)
        deliveries = actions.add_parser("deliveries", help=_("A subscription's last deliveries."))
        deliveries.add_argument("subscription_id", type=int)
        actions.add_parser("run", help=_("Run the rules and send due webhooks once, now."))

    def handle(self, *args, action: str, user: str | None, **options):
        getattr(self, f"handle_{action.replace('-', '_')}")(user=acting_user(user), **options)

    def handle_rules(self, *, user, **options):
        for rule in rule_list_for_user(user=user):
            state = _("on") if rule.is_active else _("off")
            team = rule.team.name if rule.team else _("company")
            self.stdout.write(
                f"{rule.pk:>5}  {state:<3}  {rule.trigger:<14} {rule.action:<16} {team:<12} {rule.name}"
            )

    def handle_rule(self, *, user, json: str, **options):
        rule = rule_create(by=user, data=rule_data_from_json(json))
        self.stdout.write(_("Rule %(id)s “%(name)s” created.") % {"id": rule.pk, "name": rule.name})

    def handle_dry_run(self, *, user, json: str, **options):
        result = rule_dry_run_unsaved(by=user, data=rule_data_from_json(json))
        self.stdout.write(
            _("Would have fired %(count)s times in the last 90 days, on %(records)s records.")
            % {"count": result.count, "records": result.records}
        )
        for hit in result.hits:
            self.stdout.write(f"  {hit.at:%Y-%m-%d %H:%M}  {hit.deal_id or hit.lead_id}  {hit.title}")

    def handle_toggle(self, *, user, rule_id: int, **options):
        rule = rule_get_for_user(rule_id=rule_id, user=user)
        rule = rule_update(rule=rule, by=user, data={"is_active": not rule.is_active})
        self.stdout.write(
            _("Rule %(id)s is now %(state)s.")
            % {"id": rule.pk, "state": _("on") if rule.is_active else _("off")}
        )

    def handle_runs(self, *, user, rule_id: int, **options):
        for run in rule_run_list(rule=rule_get_for_user(rule_id=rule_id, user=user))[:50]:
            self.stdout.write(f"{run.created_at:%Y-%m-%d %H:%M}  {run.status:<12} {run.key:<24} {run.detail}")

    def handle_webhooks(self, *, user, **options):
        for item in subscription_list_for_user(user=user):
            state = _("paused") if item.is_paused else (_("on") if item.is_active else _("off"))
            self.stdout.write(
                f"{item.pk:>5}  {state:<6}  {item.url}  {','.join(item.event_types)}  {item.name}"
            )

    def handle_webhook(self, *, user, name: str, url: str, events: str, **options):
        subscription, secret = subscription_create(by=user, name=name, url=url, event_types=events)
        self.stdout.write(_("Subscription %(id)s created; its signing secret:") % {"id": subscription.pk})
        self.stdout.write(secret)

    def handle_resume(self, *, user, subscription_id: int, **options):
        subscription_resume(
            subscription=subscription_get_for_user(subscription_id=subscription_id, user=user), by=user
        )
        self.stdout.write(_("Resumed."))

    def handle_deliveries(self, *, user, subscription_id: int, **options):
        subscription = subscription_get_for_user(subscription_id=subscription_id, user=user)
        for delivery in delivery_list(subscription=subscription)[:50]:
            answer = delivery.last_status_code or delivery.last_error or "-"
            self.stdout.write(
                f"{delivery.pk:>7}  {delivery.event_type:<20} {delivery.status:<9} {delivery.attempts}  {answer}  "
                f"{delivery.last_response_ms if delivery.last_response_ms is not None else '-'} ms"
            )

    def handle_run(self, **options):
        from dealflow.automation.dispatch import dispatch_pass
        from dealflow.automation.webhooks import deliveries_send_due

        result = dispatch_pass()
        sent = deliveries_send_due()
        self.stdout.write(
            _(
                "%(events)s events, %(leads)s leads; %(runs)s rule runs (%(failed)s failed); %(queued)s webhooks queued, %(sent)s sent."
            )
            % {
                "events": result.events,
                "leads": result.leads,
                "runs": result.runs,
                "failed": result.failed,
                "queued": result.deliveries,
                "sent": sent.delivered,
            }
        )
