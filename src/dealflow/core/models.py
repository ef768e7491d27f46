from typing import Any

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
