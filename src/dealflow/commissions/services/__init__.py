"""Writes for commissions, one module per topic (plans, splits, statements, disputes, gamification)."""

from __future__ import annotations

from dealflow.core import clock
from dealflow.core.models import BaseModel


def save_fields(instance: BaseModel, fields: list[str]) -> None:
    """Write the given columns (and updated_at) of an existing row through its queryset: BaseModel.save is
    untyped in core, and the commissions app is checked by mypy --strict."""
    values = {name: getattr(instance, name) for name in fields}
    type(instance)._default_manager.filter(pk=instance.pk).update(**values, updated_at=clock.now())
