"""Django's admin (/admin/, staff only) lists the domain's records for admins to look things up.

Read-only on purpose, except users and teams: every change to a deal, lead, contact or reference record
goes through its service, which records the history (DealEvent), keeps the derived tables and the search
index current and checks the rules; an edit here would skip all of that. The event logs (deal events,
stage spells, the audit log, merges) are append-only anyway. Survey answers, one-on-ones and private notes
(the people app) are left out: their privacy rules live in the people app's own pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from dealflow.accounts.models import ApiToken, AuditEntry, Membership, Team, User
from dealflow.contacts.models import Organization, Person
from dealflow.customfields.models import CustomField
from dealflow.deals.models import (
    Activity,
    Deal,
    DealEvent,
    ExchangeRate,
    Lead,
    LeadSource,
    LostReason,
    Pipeline,
    Stage,
    StageSpell,
)
from dealflow.directory.models import ContactMerge
from dealflow.products.models import DealLine, Product, ProductPrice
from dealflow.quotes.models import Quote, QuoteRule
from dealflow.search.models import SearchEntry
from dealflow.tags.models import Tag


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, search and filter; change through the app (its services keep history and rules)."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


def _read_only(
    model: Any, *, display: tuple[str, ...], search: tuple[str, ...] = (), filters: tuple[str, ...] = ()
):
    admin.site.register(
        model,
        type(
            f"{model.__name__}Admin",
            (ReadOnlyAdmin,),
            {"list_display": display, "search_fields": search, "list_filter": filters, "list_per_page": 50},
        ),
    )


@admin.register(User)
class DealflowUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


_read_only(Membership, display=("user", "team", "role"), filters=("role", "team"))
_read_only(ApiToken, display=("name", "user", "created_at"), search=("name", "user__username"))
_read_only(
    AuditEntry, display=("at", "actor", "action", "target"), search=("action", "target"), filters=("action",)
)
_read_only(Organization, display=("name", "country", "industry", "owner"), search=("name", "website"))
_read_only(
    Person,
    display=("last_name", "first_name", "email", "organization", "owner"),
    search=("last_name", "email"),
)
_read_only(Pipeline, display=("name", "is_default", "is_active"))
_read_only(
    Stage, display=("name", "pipeline", "order", "kind", "probability", "is_active"), filters=("pipeline",)
)
_read_only(LostReason, display=("name", "is_active"))
_read_only(LeadSource, display=("key", "name"))
_read_only(ExchangeRate, display=("currency", "rate", "valid_from"))
_read_only(
    Deal,
    display=("title", "status", "stage", "amount_minor", "currency", "owner", "organization", "created_at"),
    search=("title",),
    filters=("status", "pipeline"),
)
_read_only(
    DealEvent,
    display=("occurred_at", "deal", "kind", "field", "from_value", "to_value", "actor", "origin"),
    filters=("kind",),
)
_read_only(StageSpell, display=("deal", "stage", "entered_at", "exited_at", "exit_kind"))
_read_only(
    Lead, display=("title", "status", "source", "owner", "created_at"), search=("title",), filters=("status",)
)
_read_only(
    Activity,
    display=("subject", "kind", "owner", "due_at", "done_at"),
    search=("subject",),
    filters=("kind",),
)
_read_only(Product, display=("code", "name"), search=("code", "name"))
_read_only(ProductPrice, display=("product", "currency"))
_read_only(DealLine, display=("deal", "product", "quantity"))
_read_only(
    Quote, display=("number", "version", "status", "deal", "sent_at"), search=("number",), filters=("status",)
)
_read_only(QuoteRule, display=("pipeline",))
_read_only(CustomField, display=("entity", "key", "label", "kind", "is_active"), filters=("entity",))
_read_only(Tag, display=("name",), search=("name",))
_read_only(ContactMerge, display=("at", "kind", "merged_name", "survivor_name", "by"), filters=("kind",))
_read_only(SearchEntry, display=("kind", "object_id", "title", "owner"), search=("title",), filters=("kind",))
