"""The deal domain's choices, apart from the models so that the pure lifecycle (deals/lifecycle/) reads them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    OMITTED = "omitted", _("Omitted")
    CLOSED = "closed", _("Closed")


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STAGE_CHANGED = "stage_changed", _("Stage changed")
    AMOUNT_CHANGED = "amount_changed", _("Amount changed")
    CLOSE_DATE_CHANGED = "close_date_changed", _("Close date changed")
    OWNER_CHANGED = "owner_changed", _("Owner changed")
    CATEGORY_CHANGED = "category_changed", _("Forecast category changed")
    PROBABILITY_CHANGED = "probability_changed", _("Probability changed")
    FIELD_CHANGED = "field_changed", _("Field changed")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    REOPENED = "reopened", _("Reopened")
    DELETED = "deleted", _("Moved to the trash")
    RESTORED = "restored", _("Restored from the trash")


class SpellExit(models.TextChoices):
    FORWARD = "forward", _("Forward")
    BACK = "back", _("Back")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    TASK = "task", _("Task")
    NOTE = "note", _("Note")
