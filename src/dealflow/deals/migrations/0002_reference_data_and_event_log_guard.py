"""Reference data (default pipeline, lost reasons, lead sources) and the append-only guard on DealEvent."""

from django.db import migrations
from django.utils import timezone

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


SQLITE_GUARD = [
    """CREATE TRIGGER deals_dealevent_no_update BEFORE UPDATE ON deals_dealevent
       BEGIN SELECT RAISE(ABORT, 'deals_dealevent is append-only'); END;""",
    """CREATE TRIGGER deals_dealevent_no_delete BEFORE DELETE ON deals_dealevent
       BEGIN SELECT RAISE(ABORT, 'deals_dealevent is append-only'); END;""",
]
SQLITE_UNGUARD = ["DROP TRIGGER IF EXISTS deals_dealevent_no_update;",
                  "DROP TRIGGER IF EXISTS deals_dealevent_no_delete;"]
POSTGRES_GUARD = [
    """CREATE OR REPLACE FUNCTION deals_dealevent_refuse_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'deals_dealevent is append-only (%% refused)', TG_OP; END;
       $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER deals_dealevent_append_only BEFORE UPDATE OR DELETE ON deals_dealevent
       FOR EACH ROW EXECUTE FUNCTION deals_dealevent_refuse_change();""",
    """CREATE TRIGGER deals_dealevent_no_truncate BEFORE TRUNCATE ON deals_dealevent
       FOR EACH STATEMENT EXECUTE FUNCTION deals_dealevent_refuse_change();""",
]
POSTGRES_UNGUARD = [
    "DROP TRIGGER IF EXISTS deals_dealevent_no_truncate ON deals_dealevent;",
    "DROP TRIGGER IF EXISTS deals_dealevent_append_only ON deals_dealevent;",
    "DROP FUNCTION IF EXISTS deals_dealevent_refuse_change();",
]


def guard_event_log(apps, schema_editor):
    statements = POSTGRES_GUARD if schema_editor.connection.vendor == "postgresql" else SQLITE_GUARD
    for statement in statements:
        schema_editor.execute(statement)


def unguard_event_log(apps, schema_editor):
    statements = POSTGRES_UNGUARD if schema_editor.connection.vendor == "postgresql" else SQLITE_UNGUARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("deals", "0001_initial")]

    operations = [
        migrations.RunPython(create_reference_data, migrations.RunPython.noop),
        migrations.RunPython(guard_event_log, unguard_event_log),
    ]
