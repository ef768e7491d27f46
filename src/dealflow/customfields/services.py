"""Custom field definitions (admins) and the one writer of a record's values document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core.errors import ApplicationError
from dealflow.core.money import normalize_currency
from dealflow.customfields.models import OWNER_COLUMN, VALUE_MODELS, CustomField, Entity, FieldKind
from dealflow.customfields.validation import KEY_PATTERN, TEXT_MAX


def _label(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ApplicationError("A custom field needs a label.", field="label")
    if len(text) > 80:
        raise ApplicationError("A label has at most 80 characters.", field="label")
    return text


def _choices(kind: str, choices: Any) -> list[str]:
    if kind not in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE):
        if choices:
            raise ApplicationError("Only a choice field has options.", field="choices")
        return []
    if isinstance(choices, str):
        choices = choices.replace("\r", "").replace(";", "\n").split("\n")
    options: list[str] = []
    for option in choices or []:
        text = str(option).strip()
        if not text:
            continue
        if len(text) > TEXT_MAX:
            raise ApplicationError(f"The option {text[:20]!r}... is too long.", field="choices")
        if any(text.casefold() == known.casefold() for known in options):
            raise ApplicationError(f"The option {text!r} is given twice.", field="choices")
        options.append(text)
    if not options:
        raise ApplicationError("A choice field needs at least one option.", field="choices")
    return options


def _currency(kind: str, currency: Any) -> str:
    if kind != FieldKind.MONEY:
        return ""
    return normalize_currency(currency or "EUR")


@transaction.atomic
def custom_field_create(
    *,
    entity: str,
    key: str,
    label: str,
    kind: str,
    is_required: bool = False,
    choices: Any = None,
    currency: str = "",
    pipeline: Any = None,
    help_text: str = "",
    by: User | None = None,
) -> CustomField:
    """Define a custom field; its key is fixed from then on (the API, exports and mappings use it)."""
    if entity not in Entity.values:
        raise ApplicationError("Pick deal, organization, person or lead.", field="entity")
    if kind not in FieldKind.values:
        raise ApplicationError(f"Kind must be one of: {', '.join(FieldKind.values)}.", field="kind")
    key = str(key or "").strip().lower()
    if not KEY_PATTERN.match(key):
        raise ApplicationError(
            "A key is a lower-case letter followed by up to 39 letters, digits or underscores.", field="key"
        )
    if CustomField.objects.filter(entity=entity, key=key).exists():
        raise ApplicationError(f"A {entity} field with the key {key!r} exists.", field="key")
    if pipeline is not None and entity != Entity.DEAL:
        raise ApplicationError("Only a deal field belongs to a pipeline.", field="pipeline")
    field = CustomField.objects.create(
        entity=entity,
        key=key,
        label=_label(label),
        kind=kind,
        is_required=bool(is_required),
        choices=_choices(kind, choices),
        currency=_currency(kind, currency),
        pipeline=pipeline,
        help_text=str(help_text or "")[:200],
        order=CustomField.objects.filter(entity=entity).count(),
    )
    audit_record(
        actor=by,
        action="settings.custom_field_created",
        target=f"customfield:{field.pk}",
        detail={"key": key},
    )
    return field


_EDITABLE = {"label", "is_required", "choices", "help_text", "order", "is_active", "pipeline"}


@transaction.atomic
def custom_field_update(*, field: CustomField, data: dict[str, Any], by: User | None = None) -> CustomField:
    """Relabel, require, reorder, retire a field or change its options; its key and kind stay."""
    unknown = set(data) - _EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    if "label" in data:
        field.label = _label(data["label"])
    if "is_required" in data:
        field.is_required = bool(data["is_required"])
    if "choices" in data:
        options = _choices(field.kind, data["choices"])
        removed = [option for option in field.choices if option not in options]
        if removed and _option_in_use(field, removed):
            raise ApplicationError(
                f"Records still hold the option {removed[0]!r}; change them before removing it.",
                field="choices",
            )
        field.choices = options
    if "help_text" in data:
        field.help_text = str(data["help_text"] or "")[:200]
    if "order" in data:
        field.order = int(data["order"] or 0)
    if "is_active" in data:
        field.is_active = bool(data["is_active"])
    if "pipeline" in data:
        if data["pipeline"] is not None and field.entity != Entity.DEAL:
            raise ApplicationError("Only a deal field belongs to a pipeline.", field="pipeline")
        field.pipeline = data["pipeline"]
    field.save()
    audit_record(
        actor=by,
        action="settings.custom_field_updated",
        target=f"customfield:{field.pk}",
        detail={"key": field.key},
    )
    return field


def _option_in_use(field: CustomField, options: list[str]) -> bool:
    documents = (
        VALUE_MODELS[field.entity].objects.filter(data__has_key=field.key).values_list("data", flat=True)
    )
    for document in documents.iterator():
        value = document.get(field.key)
        held = value if isinstance(value, list) else [value]
        if any(option in held for option in options):
            return True
    return False


def custom_values_store(*, entity: str, object_id: int, document: dict[str, Any]) -> None:
    """Write a record's whole values document (already cleaned by validation.values_clean)."""
    model = VALUE_MODELS[entity]
    model.objects.update_or_create(**{OWNER_COLUMN[entity]: object_id}, defaults={"data": document})


@dataclass
class ValuesChange:
    definitions: list[CustomField]
    before: dict[str, Any]
    after: dict[str, Any]

    def changed(self) -> list[tuple[CustomField, Any, Any]]:
        """(field, old value, new value) for each field whose value changed, in the fields' order."""
        return [
            (definition, self.before.get(definition.key), self.after.get(definition.key))
            for definition in self.definitions
            if self.before.get(definition.key) != self.after.get(definition.key)
        ]


@transaction.atomic
def custom_values_set(
    *,
    entity: str,
    object_id: int,
    values: dict[str, Any],
    pipeline_id: int | None = None,
    check_required: bool = True,
) -> ValuesChange:
    """Validate ``values`` (only the keys given) against the entity's fields and store the new document."""
    from dealflow.customfields.selectors import custom_field_list, custom_values_get
    from dealflow.customfields.validation import values_clean

    definitions = custom_field_list(entity=entity, pipeline_id=pipeline_id)
    current = custom_values_get(entity=entity, object_id=object_id)
    document = values_clean(definitions, values, current=current, check_required=check_required)
    if document != current:
        custom_values_store(entity=entity, object_id=object_id, document=document)
    return ValuesChange(definitions, current, document)
