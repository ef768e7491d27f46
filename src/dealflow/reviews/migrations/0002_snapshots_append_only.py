"""A review's frozen snapshot is immutable: triggers refuse UPDATE and DELETE on both engines (like DealEvent)."""

from django.db import migrations

from dealflow.core.append_only import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [
        append_only_operation(
            tables=["reviews_reviewsnapshot", "reviews_reviewdeal"], function="reviews_refuse_change"
        )
    ]
