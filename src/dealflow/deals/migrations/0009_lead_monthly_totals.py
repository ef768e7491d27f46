from django.db import migrations, models


def fill_lead_totals(apps, schema_editor):
    # Existing databases get LeadMonthlyTotals counted once from the leads; from here on the lead services
    # keep it in step and bulk loaders add the leads they write (deals/services/derived_rebuild.py).
    from dealflow.deals.services.derived_rebuild import derived_leads_rebuild

    derived_leads_rebuild(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("deals", "0008_metrics_group_totals"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadMonthlyTotals",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                ("owner_id", models.BigIntegerField()),
                ("team_id", models.BigIntegerField()),
                ("source_id", models.BigIntegerField()),
                ("count", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("month", "owner_id", "team_id", "source_id"), name="leadmonthlytotals_cell"
                    )
                ],
            },
        ),
        migrations.RunPython(fill_lead_totals, migrations.RunPython.noop),
    ]
