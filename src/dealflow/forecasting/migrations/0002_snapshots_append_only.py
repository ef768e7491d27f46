"""Forecast snapshots are immutable: triggers refuse UPDATE and DELETE on both engines (like DealEvent)."""

from django.db import migrations

from dealflow.core.append_only import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("forecasting", "0001_initial")]

    operations = [
        append_only_operation(
            tables=["forecasting_forecastsnapshot", "forecasting_snapshotdeal"],
            function="forecasting_refuse_change",
        )
    ]
