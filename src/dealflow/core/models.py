from typing import Any, TypeVar

from django.db import models

from dealflow.core.errors import ApplicationError


class BaseModel(models.Model):
    """Timestamps every table carries."""

    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # created_at is settable (imports backdate records); default it once, never overwrite it.
        if self.created_at is None:
            from dealflow.core.clock import now

            self.created_at = now()
        super().save(*args, **kwargs)


_Model = TypeVar("_Model", bound=models.Model)


class LiveManager(models.Manager[_Model]):
    """The default manager of a record that can go to the trash: it hides rows with ``deleted_at`` set.

    Trash pages and restore read through ``all_objects``; Django's base manager (related-object access,
    backups) keeps every row, so a deal still names its deleted organisation.
    """

    def get_queryset(self) -> models.QuerySet[_Model]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class TrashableModel(models.Model):
    """``deleted_at``/``deleted_by``: moved to the trash (soft delete) at and by; restore clears both."""

    # No plain index: `deleted_at IS NULL` is true of nearly every row, and SQLite's planner, seeing an
    # equality on an indexed column, picked it over the covering indexes (EXPLAIN, docs/trash.md). Each model
    # has a partial index on the trash instead (`deleted_at IS NOT NULL`), which only the trash page uses.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = LiveManager()
    all_objects = models.Manager()  # noqa: DJ012 - a manager; ruff reads models.Manager() as a field

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class PeriodicRun(models.Model):
    """When a periodic job (core.schedule.PERIODIC_JOBS) last ran; the scheduler claims a run by updating it."""

    name = models.CharField(max_length=120, unique=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (last run {self.last_run_at or 'never'})"


class AppendOnlyModel(models.Model):
    """Written once; the database refuses UPDATE and DELETE too (core/append_only.py, in the app's migration)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ApplicationError(f"{type(self).__name__} rows are immutable.", field="snapshot")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ApplicationError(f"{type(self).__name__} rows are immutable.", field="snapshot")
