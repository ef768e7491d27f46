"""Custom field definitions, a record's values, and filters and sorting on them for any list."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.http import Http404

from dealflow.core.errors import ApplicationError
from dealflow.customfields.models import OWNER_COLUMN, VALUE_MODELS, CustomField, Entity, FieldKind
from dealflow.customfields.validation import value_clean


def custom_field_list(
    *,
    entity: str,
    pipeline_id: int | None = None,
    include_inactive: bool = False,
    all_pipelines: bool = False,
) -> list[CustomField]:
    """The fields of ``entity`` in order; for deals, those of every pipeline plus those of ``pipeline_id``."""
    fields = CustomField.objects.filter(entity=entity)
    if not include_inactive:
        fields = fields.filter(is_active=True)
    if entity == Entity.DEAL and not all_pipelines:
        fields = fields.filter(Q(pipeline__isnull=True) | Q(pipeline_id=pipeline_id))
    return list(fields.order_by("order", "id"))


def custom_field_get(*, field_id: int) -> CustomField:
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None:
        raise Http404("No such custom field.")
    return field


def custom_field_get_by_key(*, entity: str, key: str) -> CustomField:
    """An active field by its key; an error naming the parameter when there is none."""
    field = CustomField.objects.filter(entity=entity, key=key, is_active=True).first()
    if field is None:
        raise ApplicationError(f"There is no custom field {key!r}.", field=f"custom.{key}")
    return field


def custom_values_get(*, entity: str, object_id: int) -> dict[str, Any]:
    """The stored values of one record (an empty dict when it has none)."""
    model = VALUE_MODELS[entity]
    row = model.objects.filter(**{OWNER_COLUMN[entity]: object_id}).values_list("data", flat=True).first()
    return dict(row or {})


def custom_values_map(*, entity: str, object_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Values of many records in one query: {record id: document}, for lists and exports."""
    model = VALUE_MODELS[entity]
    column = OWNER_COLUMN[entity]
    return dict(model.objects.filter(**{f"{column}__in": object_ids}).values_list(column, "data"))


def custom_field_filter(
    queryset: QuerySet, *, field: CustomField, value: Any, relation: str = "custom_values"
) -> QuerySet:
    """Records whose ``field`` equals ``value`` (for a multiple choice: includes the option).

    ``value`` is cleaned like an input, so a bad filter value is an error naming the field, never a 500.
    On PostgreSQL this is JSON containment (``@>``), which the GIN index on the values table answers; on
    SQLite it compares ``json_extract``.
    """
    cleaned = value_clean(field, value)
    if cleaned is None:
        return queryset
    if field.kind == FieldKind.MULTI_CHOICE:
        wanted = cleaned[:1]
        if connection.vendor == "postgresql":
            return queryset.filter(**{f"{relation}__data__contains": {field.key: wanted}})
        table = queryset.model._meta.get_field(relation).related_model._meta.db_table
        pk = queryset.model._meta.pk.column
        column = queryset.model._meta.get_field(relation).field.column
        condition = RawSQL(  # noqa: S611 (quoted names of ours; the values are parameters)
            f'EXISTS (SELECT 1 FROM "{table}" AS cv, json_each(cv.data, %s) AS item '  # noqa: S608
            f'WHERE cv."{column}" = "{queryset.model._meta.db_table}"."{pk}" AND item.value = %s)',
            (f'$."{field.key}"', wanted[0]),
            output_field=BooleanField(),
        )
        return queryset.filter(condition)
    if connection.vendor == "postgresql":
        return queryset.filter(**{f"{relation}__data__contains": {field.key: cleaned}})
    return queryset.filter(**{f"{relation}__data__{field.key}": cleaned})


def custom_field_filter_range(
    queryset: QuerySet,
    *,
    field: CustomField,
    low: Any = None,
    high: Any = None,
    relation: str = "custom_values",
) -> QuerySet:
    """Records whose number, money or date ``field`` lies between ``low`` and ``high`` (either may be open)."""
    if field.kind not in (FieldKind.NUMBER, FieldKind.MONEY, FieldKind.DATE):
        raise ApplicationError(
            f"{field.label}: only numbers, amounts and dates have a range.", field=f"custom.{field.key}"
        )
    lookup = f"{relation}__data__{field.key}"
    if (cleaned := value_clean(field, low)) is not None:
        queryset = queryset.filter(**{f"{lookup}__gte": cleaned})
    if (cleaned := value_clean(field, high)) is not None:
        queryset = queryset.filter(**{f"{lookup}__lte": cleaned})
    return queryset


def custom_field_ordering(
    *, field: CustomField, descending: bool = False, relation: str = "custom_values"
) -> list:
    """The order_by() terms that sort by ``field`` (records without a value last), then by id."""
    data = F(f"{relation}__data")
    if field.kind in (FieldKind.NUMBER, FieldKind.MONEY, FieldKind.CHECKBOX):
        expression = KeyTransform(field.key, data)
    else:
        expression = KeyTextTransform(field.key, data)
    ordering = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return [ordering, "-id" if descending else "id"]


def custom_field_order(
    queryset: QuerySet, *, field: CustomField, descending: bool = False, relation: str = "custom_values"
) -> QuerySet:
    """Sort by ``field`` (records without a value last), then by id."""
    return queryset.order_by(*custom_field_ordering(field=field, descending=descending, relation=relation))
