"""What a deal holds, read behind the deal's access gate: lines and their totals, custom values, tags."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dealflow.accounts.models import User
from dealflow.customfields.models import CustomField, Entity
from dealflow.customfields.selectors import custom_field_list, custom_values_get
from dealflow.deals.models import Deal
from dealflow.deals.selectors import deal_get_for_user
from dealflow.deals.services.contents import deal_value_basis
from dealflow.products.calculations import DealTotals, LineTotals, deal_totals, line_totals
from dealflow.products.models import DealLine
from dealflow.products.selectors import deal_line_list
from dealflow.tags.selectors import tag_names_of


@dataclass
class DealContents:
    deal: Deal
    lines: list[DealLine]
    line_totals: list[LineTotals]
    totals: DealTotals
    basis: str
    fields: list[CustomField] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[DealLine, LineTotals]]:
        return list(zip(self.lines, self.line_totals, strict=True))

    @property
    def custom_rows(self) -> list[tuple[CustomField, Any]]:
        """(field, value) in form order; a date as a date, for display."""
        rows = []
        for definition in self.fields:
            value = self.values.get(definition.key)
            if definition.kind == "date" and value:
                value = dt.date.fromisoformat(value)
            rows.append((definition, value))
        return rows


def line_totals_of(line: DealLine) -> LineTotals:
    """The figures of a stored line, recomputed from what it was priced with (they equal the stored ones)."""
    return line_totals(line.price)


def deal_contents_of(*, deal: Deal) -> DealContents:
    """A visible deal's contents (the caller passed the gate)."""
    lines = list(deal_line_list(deal_id=deal.pk))
    figures = [line_totals_of(line) for line in lines]
    basis = deal_value_basis()
    totals = deal_totals(
        [(totals, line.currency, line.rate_to_deal) for line, totals in zip(lines, figures, strict=True)],
        currency=deal.currency,
        basis=basis,
    )
    return DealContents(
        deal=deal,
        lines=lines,
        line_totals=figures,
        totals=totals,
        basis=basis,
        fields=custom_field_list(entity=Entity.DEAL, pipeline_id=deal.pipeline_id),
        values=custom_values_get(entity=Entity.DEAL, object_id=deal.pk),
        tags=tag_names_of(entity="deal", object_id=deal.pk),
    )


def deal_contents_for_user(*, deal_id: int, user: User) -> DealContents:
    """Lines, totals (one-off, MRR, ARR, TCV), custom values and tags of a deal the user may see (else 404)."""
    return deal_contents_of(deal=deal_get_for_user(deal_id=deal_id, user=user))
