"""Shapes several routers share: a user reference, a page of results, money as a decimal string."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from ninja import Schema
from pydantic import Field

from dealflow.core.money import from_minor

ItemT = TypeVar("ItemT")

# Bounded integers: a number the database cannot hold is a 400 naming the field, never a 500.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
SmallNumber = Annotated[int, Field(ge=0, le=2**31 - 1)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Field(le=2**62)]


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(user) -> str:
        return user["name"] if isinstance(user, dict) else user.display_name  # a dict: already shaped


class PageOut(Schema, Generic[ItemT]):
    """One page of a list: ``count`` is the total number of matching records, counted up to 10,000; past that
    it says 10,000 and ``count_is_capped`` is true (page on with ``offset`` until a page comes back short)."""

    count: int
    count_is_capped: bool = False
    limit: int
    offset: int
    items: list[ItemT]


class PageQuery(Schema):
    limit: int = 50
    offset: Offset = 0


class MessageOut(Schema):
    detail: str


def money_text(amount_minor: int | None, currency: str) -> str | None:
    """Minor units as the decimal string the API speaks ("1200.50")."""
    if amount_minor is None:
        return None
    return str(from_minor(amount_minor, currency))


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal without trailing zeros or exponent ("0.91", "10"), however the database stored it."""
    return None if value is None else format(Decimal(value).normalize(), "f")
