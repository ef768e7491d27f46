"""Reference data (default pipeline, lost reasons, lead sources) and the append-only guard on DealEvent."""

from django.db import migrations
from django.utils import timezone

from dealflow.core.append_only import append_only_operation

DEFAULT_STAGES = [
    # name, kind, probability, rotting days, forecast category, definition of done
    ("Qualification", "open", 10, 14, "pipeline",
     "Budget, authority, need and timeline are confirmed and a first meeting with the buyer is held."),
    ("Needs analysis", "open", 25, 21, "pipeline",
     "The buyer's problem, success criteria and decision process are written down and agreed."),
    ("Proposal", "open", 45, 21, "best_case",
     "A proposal with scope, price and timeline has been sent and walked through with the decision maker."),
    ("Negotiation", "open", 65, 14, "best_case",
     "Open points on price and terms are listed, each with an owner; legal and procurement are engaged."),
    ("Closing", "open", 85, 10, "commit",
     "Final terms are agreed verbally and the contract is out for signature with a signing date."),
    ("Won", "won", 100, 0, "closed", "The contract is signed."),
    ("Lost", "lost", 0, 0, "closed", "The buyer said no or stopped answering; a lost reason is recorded."),
]
LOST_REASONS = ["Price", "Chose a competitor", "No budget", "No decision / went silent", "Timing",
                "Missing feature", "Not a fit", "Other"]
LEAD_SOURCES = [("website", "Website inquiry"), ("trade_show", "Trade show"), ("referral", "Referral"),
                ("campaign", "Marketing campaign"), ("outbound", "Outbound"), ("other", "Other")]


def create_reference_data(apps, schema_editor):
    Pipeline = apps.get_model("deals", "Pipeline")
    Stage = apps.get_model("deals", "Stage")
    LostReason = apps.get_model("deals", "LostReason")
    LeadSource = apps.get_model("deals", "LeadSource")
    now = timezone.now()
    pipeline, _ = Pipeline.objects.get_or_create(
        name="Sales", defaults={"is_default": True, "order": 0, "created_at": now}
    )
    for order, (name, kind, probability, rotting, category, done) in enumerate(DEFAULT_STAGES):
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name,
            defaults=dict(order=order, kind=kind, probability=probability, rotting_days=rotting,
                          forecast_category=category, definition_of_done=done, created_at=now),
        )
    for order, name in enumerate(LOST_REASONS):
        LostReason.objects.get_or_create(name=name, defaults={"order": order, "created_at": now})
    for order, (key, name) in enumerate(LEAD_SOURCES):
        LeadSource.objects.get_or_create(key=key, defaults={"name": name, "order": order, "created_at": now})


class Migration(migrations.Migration):
    dependencies = [("deals", "0001_initial")]

    operations = [
        migrations.RunPython(create_reference_data, migrations.RunPython.noop),
        append_only_operation(tables=["deals_dealevent"], function="deals_dealevent_refuse_change"),
    ]
