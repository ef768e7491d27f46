"""Shapes several routers share: a user reference, a page of results, money as a decimal string."""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

from ninja import Schema

from dealflow.core.money import from_minor

ItemT = TypeVar("ItemT")


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(user) -> str:
        return user.display_name


class PageOut(Schema, Generic[ItemT]):
    """One page of a list: ``count`` is the total number of matching records."""

    count: int
    limit: int
    offset: int
    items: list[ItemT]


class PageQuery(Schema):
    limit: int = 50
    offset: int = 0


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
