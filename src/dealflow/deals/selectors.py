"""Reads of the pipeline; every record-level access check lives here (``*_for_user``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from django.db import connection
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import (
    owner_editable_q,
    owner_rows,
    owner_visibility_q,
    user_access_scope,
    user_is_admin,
)
from dealflow.contacts.models import Organization, Person
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.literals import literal_in
from dealflow.core.pagination import merged_rows, rows_by_ids
from dealflow.core.parameters import choice_parameter, date_parameter, id_parameter, text_parameter
from dealflow.customfields.models import CustomField
from dealflow.customfields.selectors import (
    custom_field_filter,
    custom_field_filter_range,
    custom_field_get_by_key,
    custom_field_ordering,
)
from dealflow.deals.models import (
    Activity,
    Deal,
    DealEvent,
    ExchangeRate,
    Lead,
    LeadSource,
    LeadStatus,
    LostReason,
    Pipeline,
    Stage,
)
from dealflow.deals.rates import base_currency, convert_minor_to_base, exchange_rate_on, rate_table
from dealflow.products.models import DealLine
from dealflow.tags.selectors import tag_filter

__all__ = ["base_currency", "convert_minor_to_base", "exchange_rate_on", "rate_table"]


@dataclass
class DealFilters:
    """The filters every deal list shares (board, list, export, API, CLI)."""

    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    status: str | None = None
    source: str | None = None  # LeadSource key
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    closed_from: dt.date | None = None
    closed_to: dt.date | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    search: str | None = None
    mine: bool = False
    tag: str | None = None  # a tag name (any case)
    product_id: int | None = None  # deals with a line of this product
    # Custom fields: ``cf_<key>=value`` (equals; a multiple choice includes it), ``cf_<key>_from`` and
    # ``cf_<key>_to`` (number, money and date ranges). Keys are checked against the defined fields.
    custom: dict[str, Any] | None = None

    @classmethod
    def from_mapping(cls, data: Any) -> DealFilters:
        """Parse filters from a QueryDict or dict, naming the field at fault."""

        status = choice_parameter(data, "status", ("open", "won", "lost"))
        mine = str(data.get("mine", "")).lower() in {"1", "true", "yes", "on"}
        return cls(
            pipeline_id=id_parameter(data, "pipeline"),
            stage_id=id_parameter(data, "stage"),
            owner_id=id_parameter(data, "owner"),
            team_id=id_parameter(data, "team"),
            status=status,
            source=text_parameter(data, "source"),
            close_from=date_parameter(data, "close_from"),
            close_to=date_parameter(data, "close_to"),
            closed_from=date_parameter(data, "closed_from"),
            closed_to=date_parameter(data, "closed_to"),
            created_from=date_parameter(data, "created_from"),
            created_to=date_parameter(data, "created_to"),
            search=text_parameter(data, "q") or text_parameter(data, "search"),
            mine=mine,
            tag=text_parameter(data, "tag"),
            product_id=id_parameter(data, "product"),
            custom=_custom_parameters(data),
        )

    def apply(self, deals: QuerySet[Deal], *, user: User) -> QuerySet[Deal]:
        if self.pipeline_id:
            deals = deals.filter(pipeline_id=self.pipeline_id)
        if self.stage_id:
            deals = deals.filter(stage_id=self.stage_id)
        if self.mine:
            deals = deals.filter(owner_id=user.pk)
        elif self.owner_id:
            deals = deals.filter(owner_id=self.owner_id)
        if self.team_id:
            deals = deals.filter(
                owner_id__in=Membership.objects.filter(team_id=self.team_id).values("user_id")
            )
        if self.status:
            deals = deals.filter(status=self.status)
        if self.source:
            deals = deals.filter(source__key=self.source)
        if self.close_from:
            deals = deals.filter(expected_close_on__gte=self.close_from)
        if self.close_to:
            deals = deals.filter(expected_close_on__lte=self.close_to)
        if self.closed_from:
            deals = deals.filter(closed_on__gte=self.closed_from)
        if self.closed_to:
            deals = deals.filter(closed_on__lte=self.closed_to)
        if self.created_from:
            deals = deals.filter(created_on__gte=self.created_from)
        if self.created_to:
            deals = deals.filter(created_on__lte=self.created_to)
        if self.search:
            deals = deals.filter(text_search_q(self.search))
        if self.tag:
            deals = tag_filter(deals, entity="deal", name=self.tag)
        if self.product_id:
            deals = deals.filter(pk__in=DealLine.objects.filter(product_id=self.product_id).values("deal_id"))
        for name, value in (self.custom or {}).items():
            key, _, bound = name.partition(":")
            field = custom_field_get_by_key(entity="deal", key=key)
            if bound == "from":
                deals = custom_field_filter_range(deals, field=field, low=value)
            elif bound == "to":
                deals = custom_field_filter_range(deals, field=field, high=value)
            else:
                deals = custom_field_filter(deals, field=field, value=value)
        return deals


# Above this many matching organizations (or persons) a search joins their table instead of listing ids.
SEARCH_CONTACT_IDS = 1_000


def text_search_q(search: str) -> Q:
    """Deals or leads whose title, organization name, person's last name or e-mail contains ``search`` (any
    case).

    The organizations and persons that match are looked up first (each a trigram index on PostgreSQL,
    migrations deals 0009 and contacts 0003) and the rows are then filtered by their ids: one OR over the
    title's trigram index and the two foreign-key indexes. The same OR across joined tables read every deal
    (1.4 s at 1M deals for a word nothing contained). Contacts in the trash still match, as the join did.
    """
    organizations = list(
        Organization._base_manager.filter(name__icontains=search).values_list("pk", flat=True)[
            : SEARCH_CONTACT_IDS + 1
        ]
    )
    persons = list(
        Person._base_manager.filter(Q(last_name__icontains=search) | Q(email__icontains=search)).values_list(
            "pk", flat=True
        )[: SEARCH_CONTACT_IDS + 1]
    )
    found = Q(title__icontains=search)
    if len(organizations) > SEARCH_CONTACT_IDS:
        found |= Q(organization__name__icontains=search)
    elif organizations:
        found |= Q(organization_id__in=organizations)
    if len(persons) > SEARCH_CONTACT_IDS:
        found |= Q(person__last_name__icontains=search) | Q(person__email__icontains=search)
    elif persons:
        found |= Q(person_id__in=persons)
    return found


def _custom_parameters(data: Any) -> dict[str, Any]:
    """``cf_<key>``, ``cf_<key>_from``, ``cf_<key>_to`` -> {"key": v, "key:from": v, "key:to": v} (non-empty)."""
    found: dict[str, Any] = {}
    for name in list(data.keys()):
        if not name.startswith("cf_") or data.get(name) in (None, ""):
            continue
        key = name[3:]
        for suffix, bound in (("_from", ":from"), ("_to", ":to")):
            if (
                key.endswith(suffix)
                and CustomField.objects.filter(entity="deal", key=key[: -len(suffix)]).exists()
            ):
                found[key[: -len(suffix)] + bound] = data.get(name)
                break
        else:
            found[key] = data.get(name)
    return found


DEAL_ORDERINGS = {
    "title",
    "-title",
    "amount",
    "-amount",
    "expected_close_on",
    "-expected_close_on",
    "created_at",
    "-created_at",
    "stage",
    "-stage",
    "owner",
    "-owner",
    "updated_at",
    "-updated_at",
    "organization",
    "-organization",
}
_ORDER_FIELDS = {
    "amount": "amount_minor",
    "stage": "stage__order",
    "owner": "owner__username",
    "organization": "organization__name",
}


def deal_ordering(order: str | None) -> list[Any]:
    if order and order.lstrip("-").startswith("cf_"):
        field = custom_field_get_by_key(entity="deal", key=order.lstrip("-")[3:])
        return custom_field_ordering(field=field, descending=order.startswith("-"))
    if not order:
        return ["-created_at", "-id"]
    if order not in DEAL_ORDERINGS:
        raise ApplicationError(f"Cannot order by {order!r}.", field="order")
    descending = order.startswith("-")
    name = _ORDER_FIELDS.get(order.lstrip("-"), order.lstrip("-"))
    return [("-" if descending else "") + name, "-id" if descending else "id"]


def deal_visible_q(*, user: User, prefix: str = "") -> Q:
    """Deals the user may see; ``prefix`` (``"deal__"``) applies it to a deal reached through a relation."""
    return owner_visibility_q(user=user, owner_field=f"{prefix}owner_id")


def deal_list_for_user(
    *, user: User, filters: DealFilters | None = None, order: str | None = None
) -> QuerySet[Deal]:
    """Deals the user may see, filtered and ordered, with the relations a list shows."""
    deals = Deal.objects.filter(deal_visible_q(user=user)).select_related(
        "owner", "organization", "stage", "pipeline", "person", "source", "lost_reason"
    )
    if filters:
        deals = filters.apply(deals, user=user)
    return deals.order_by(*deal_ordering(order))


# The deal columns a list row carries (the deals table alone), and for each relation the columns it shows.
DEAL_ROW_FIELDS = (
    "id",
    "title",
    "status",
    "pipeline_id",
    "stage_id",
    "owner_id",
    "organization_id",
    "person_id",
    "amount_minor",
    "currency",
    "amount_base_minor",
    "expected_close_on",
    "probability_override",
    "forecast_category_override",
    "source_id",
    "lead_id",
    "lead_created_at",
    "parent_id",
    "lost_reason_id",
    "lost_note",
    "next_step",
    "next_step_on",
    "created_at",
    "stage_entered_at",
    "won_at",
    "lost_at",
    "closed_on",
    "last_activity_at",
    "version",
    "updated_at",
)
DEAL_RELATED_COLUMNS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "owner": (User, ("username", "first_name", "last_name")),
    "stage": (Stage, ("name", "probability", "forecast_category")),
    "pipeline": (Pipeline, ("name",)),
    "organization": (Organization, ("name",)),
    "person": (Person, ("first_name", "last_name", "email")),
    "source": (LeadSource, ("key",)),
    "lost_reason": (LostReason, ("name",)),
}


def deal_related_for_rows(*, rows: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[str, ...]]:
    """For a page of deal rows (DEAL_ROW_FIELDS), the DEAL_RELATED_COLUMNS of their owners, stages, pipelines,
    organizations, persons, sources and lost reasons as text, keyed (relation, id), from one UNION query.

    Instead of joining seven tables: PostgreSQL spent 25-60 ms *planning* that join with the list's ORDER BY
    and LIMIT, for a query that runs in 1 ms; each part here is a primary-key lookup in one table. The rows
    come from a visibility-filtered deal list; what they refer to is shown with them, as the join would.
    """
    quote = connection.ops.quote_name
    parts: list[str] = []
    params: list[Any] = []
    for kind, (model, columns) in DEAL_RELATED_COLUMNS.items():
        ids = sorted({key for row in rows if (key := row[f"{kind}_id"]) is not None})
        if not ids:
            continue
        texts = [f"CAST({quote(column)} AS TEXT)" for column in columns] + ["''"] * (3 - len(columns))
        parts.append(
            f"SELECT %s, {quote(model._meta.pk.column)}, {', '.join(texts)} "  # noqa: S608 (quoted names of ours)
            f"FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} IN "
            f"({', '.join(['%s'] * len(ids))})"
        )
        params += [kind, *ids]
    if not parts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {
            (kind, pk): tuple(values[: len(DEAL_RELATED_COLUMNS[kind][1])])
            for kind, pk, *values in cursor.fetchall()
        }


def deal_get_for_user(*, deal_id: int, user: User, for_write: bool = False) -> Deal:
    """One deal, or 404 when it is missing or not the user's to see; 403 only for a read-only viewer's write."""
    # Join the relations every door shows; the rarer ones (source, lost reason, parent, lead) load when used.
    # PostgreSQL plans a six-table join in 0.7 ms and the ten-table one in 3-10 ms, longer than it runs.
    deal = (
        Deal.objects.filter(deal_visible_q(user=user))
        .select_related("owner", "organization", "person", "stage", "pipeline")
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        raise Http404("No such deal.")
    if for_write:
        deal_check_can_edit(deal=deal, user=user)
    return deal


def deal_check_visible(*, deal_id: int, user: User) -> None:
    """404 unless the deal exists and the user may see it (one indexed lookup, nothing loaded)."""
    if not Deal.objects.filter(deal_visible_q(user=user), pk=deal_id).exists():
        raise Http404("No such deal.")


def deal_check_can_edit(*, deal: Deal, user: User) -> None:
    if not Deal.objects.filter(owner_editable_q(user=user), pk=deal.pk).exists():
        raise PermissionDeniedError("You may read this deal but not change it.", field="deal")


def deal_list_events_for_user(*, deal_id: int, user: User) -> QuerySet[DealEvent]:
    """A deal's history, oldest first."""
    deal_check_visible(deal_id=deal_id, user=user)
    return (
        DealEvent.objects.filter(deal_id=deal_id)
        .select_related("actor", "from_stage", "to_stage")
        .order_by("occurred_at", "id")
    )


LEAD_ORDERINGS = {
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
    "title": ["title", "id"],
    "-title": ["-title", "-id"],
    "status": ["status", "id"],
    "-status": ["-status", "-id"],
}


def lead_list_for_user(
    *,
    user: User,
    status: str | None = None,
    source: str | None = None,
    search: str | None = None,
    owner_id: int | None = None,
    order: str | None = None,
) -> QuerySet[Lead]:
    """Leads the user may see, filtered by status (comma-separated), source key, owner and free text."""
    leads = Lead.objects.filter(owner_visibility_q(user=user)).select_related(
        "owner", "source", "organization", "person"
    )
    if status:
        statuses = [part.strip() for part in status.split(",") if part.strip()]
        unknown = set(statuses) - set(LeadStatus.values)
        if unknown:
            raise ApplicationError(f"status must be among {', '.join(LeadStatus.values)}.", field="status")
        # Written into the SQL: SQLite then reads the inbox's partial index (core/literals.py).
        leads = leads.filter(literal_in("status", statuses))
    if source:
        leads = leads.filter(source__key=source)
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    if search:
        leads = leads.filter(text_search_q(search))
    if order and order not in LEAD_ORDERINGS:
        raise ApplicationError(f"Cannot order by {order!r}.", field="order")
    return leads.order_by(*LEAD_ORDERINGS[order or "-created_at"])


def lead_page_rows(
    leads: QuerySet[Lead],
    *,
    user: User,
    search: str | None = None,
    owner_id: int | None = None,
    order: str | None = None,
) -> Callable[[int, int], list[Lead]]:
    """How to read a page of ``lead_list_for_user`` (same arguments): owner by owner along the (owner,
    created_at) index for a reader of several owners' leads in date order (``accounts.selectors.owner_rows``);
    otherwise the page's ids first (``core.pagination.rows_by_ids``): with the owner joined, SQLite started an
    admin's list at the users and read every lead through that index (5.9 s at 1M deals)."""
    if search or owner_id is not None or (order or "-created_at") not in ("created_at", "-created_at"):
        return rows_by_ids(leads)
    return owner_rows(leads, user=user) or rows_by_ids(leads)


def lead_inbox_rows(*, leads: QuerySet[Lead], offset: int, limit: int) -> list[Lead]:
    """Rows ``offset`` to ``offset + limit`` of ``leads`` (from ``lead_list_for_user``) in the inbox's order:
    by source (its order, then name), newest first within one, with their owner, source, organization and
    person.

    Read a source at a time (``core.pagination.merged_rows``, grouped), each part along the (source,
    created_at) index of open leads (``lead_inbox_by_source``) no further than the page. One ORDER BY over
    every open lead joined to its source and contacts sorted all of them (96,000 at 1M deals, 0.6-2 s).
    """
    sources = list(LeadSource.objects.order_by("order", "name").values_list("pk", flat=True))
    return merged_rows(
        leads.order_by("-created_at", "-id"),
        field="source_id",
        values=sources,
        offset=offset,
        limit=limit,
        grouped=True,
    )


def lead_get_for_user(*, lead_id: int, user: User, for_write: bool = False) -> Lead:
    """One lead, or 404 when it is missing or not the user's to see; 403 for a read-only viewer's write."""
    lead = lead_list_for_user(user=user).filter(pk=lead_id).first()
    if lead is None:
        raise Http404("No such lead.")
    if for_write and not Lead.objects.filter(owner_editable_q(user=user), pk=lead.pk).exists():
        raise PermissionDeniedError("You may read this lead but not change it.", field="lead")
    return lead


def _with_visible_deal_title(activities: QuerySet[Activity], *, user: User) -> QuerySet[Activity]:
    """Annotate ``visible_deal_title``: the deal's title when the user may see the deal, else None.

    An activity stays its owner's after its deal moves to another team; every door that names the
    deal next to the activity (page, API, export) reads this, not ``activity.deal.title``."""
    if user_access_scope(user=user).sees_everything:
        return activities.annotate(visible_deal_title=F("deal__title"))
    # On the joined deal row: an EXISTS over the visible deals was planned as a hashed sub-plan that read
    # every deal of the user's teams (0.3-0.4 s for a manager's activities at 1M deals, issue #19).
    visible = Q(deal__deleted_at__isnull=True) & deal_visible_q(user=user, prefix="deal__")
    return activities.annotate(
        visible_deal_title=Case(
            When(visible, then=F("deal__title")), default=Value(None), output_field=CharField()
        )
    )


def activity_list_for_user(
    *, user: User, deal_id: int | None = None, open_only: bool = False, mine: bool = False
) -> QuerySet[Activity]:
    """Activities the user may see (all of a visible deal's when ``deal_id`` is given), open ones first."""
    activities = Activity.objects.filter(owner_visibility_q(user=user)).select_related(
        "deal", "lead", "owner"
    )
    if deal_id is not None:
        deal_check_visible(deal_id=deal_id, user=user)
        activities = Activity.objects.filter(deal_id=deal_id).select_related("deal", "lead", "owner")
    activities = _with_visible_deal_title(activities, user=user)
    if mine:
        activities = activities.filter(owner=user)
    if open_only:
        activities = activities.filter(done_at__isnull=True)
    # Open ones (no done_at) first on every engine: PostgreSQL sorts NULLs last in ascending order, SQLite
    # first, so the direction is said (the index activity_list_order has the same order).
    return activities.order_by(F("done_at").asc(nulls_first=True), "due_at", "id")


def activity_page_rows(
    activities: QuerySet[Activity], *, user: User, deal_id: int | None = None, mine: bool = False
) -> Callable[[int, int], list[Activity]]:
    """How to read a page of ``activity_list_for_user`` (same arguments): owner by owner for a reader of
    several owners' activities (``accounts.selectors.owner_rows``, along the (owner, done_at, due_at) index);
    otherwise the page's ids first, without the joins (``core.pagination.rows_by_ids``)."""
    if deal_id is not None or mine:
        return rows_by_ids(activities)
    return owner_rows(activities, user=user) or rows_by_ids(activities)


def activity_get_for_user(*, activity_id: int, user: User, for_write: bool = False) -> Activity:
    """One activity, or 404 when it is missing or not the user's to see; 403 for a read-only viewer's write."""
    activity = (
        _with_visible_deal_title(
            Activity.objects.filter(owner_visibility_q(user=user), pk=activity_id), user=user
        )
        .select_related("deal", "owner")
        .first()
    )
    if activity is None:
        raise Http404("No such activity.")
    if for_write and not Activity.objects.filter(owner_editable_q(user=user), pk=activity.pk).exists():
        raise PermissionDeniedError("You may read this activity but not change it.", field="activity")
    return activity


def pipeline_list(*, include_inactive: bool = False) -> QuerySet[Pipeline]:
    pipelines = Pipeline.objects.all()
    if not include_inactive:
        pipelines = pipelines.filter(is_active=True)
    return pipelines.order_by("order", "id")


def pipeline_get(*, pipeline_id: int, field: str | None = None) -> Pipeline:
    """A pipeline by id; 404 when missing, or a 400 naming ``field`` when it was picked in a form."""
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        if field:
            raise ApplicationError("No such pipeline.", field=field)
        raise Http404("No such pipeline.")
    return pipeline


def pipeline_get_default() -> Pipeline | None:
    return Pipeline.objects.filter(is_active=True).order_by("-is_default", "order", "id").first()


def stage_list(*, pipeline_id: int | None = None, include_inactive: bool = False) -> QuerySet[Stage]:
    stages = Stage.objects.select_related("pipeline")
    if pipeline_id is not None:
        stages = stages.filter(pipeline_id=pipeline_id)
    if not include_inactive:
        stages = stages.filter(is_active=True)
    return stages.order_by("pipeline__order", "pipeline_id", "order", "id")


def stage_get(*, stage_id: int, field: str | None = "stage") -> Stage:
    """A stage by id; a 400 naming ``field`` when missing, or 404 when ``field`` is None (a URL)."""
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        if field:
            raise ApplicationError("No such stage.", field=field)
        raise Http404("No such stage.")
    return stage


def lost_reason_list(*, include_inactive: bool = False) -> QuerySet[LostReason]:
    reasons = LostReason.objects.all()
    return reasons if include_inactive else reasons.filter(is_active=True)


@overload
def lost_reason_get(*, reason_id: int, field: str | None = ...) -> LostReason: ...
@overload
def lost_reason_get(*, reason_id: None, field: str | None = ...) -> None: ...
@overload
def lost_reason_get(*, reason_id: int | None, field: str | None = ...) -> LostReason | None: ...


def lost_reason_get(*, reason_id: int | None, field: str | None = "reason") -> LostReason | None:
    """A lost reason by id (None for None); a 400 naming ``field`` when missing, 404 when ``field`` is None."""
    if reason_id is None:
        return None
    reason = LostReason.objects.filter(pk=reason_id).first()
    if reason is None:
        if field:
            raise ApplicationError("No such lost reason.", field=field)
        raise Http404("No such lost reason.")
    return reason


def lead_source_list() -> QuerySet[LeadSource]:
    return LeadSource.objects.all()


def lead_source_get(*, key: str | None) -> LeadSource | None:
    if not key:
        return None
    source = LeadSource.objects.filter(key=key).first()
    if source is None:
        raise ApplicationError(f"Unknown lead source {key!r}.", field="source")
    return source


def exchange_rate_list(*, currency: str | None = None) -> QuerySet[ExchangeRate]:
    rates = ExchangeRate.objects.all()
    if currency:
        rates = rates.filter(currency=currency.strip().upper())
    return rates.order_by("currency", "-valid_from")


def exchange_rate_get(*, rate_id: int) -> ExchangeRate:
    """An exchange rate by id, or 404."""
    rate = ExchangeRate.objects.filter(pk=rate_id).first()
    if rate is None:
        raise Http404("No such exchange rate.")
    return rate


def settings_check_admin(*, user: User) -> None:
    """Pipelines, stages, lost reasons and rates are admin settings."""
    if not user_is_admin(user=user):
        raise PermissionDeniedError("Only an admin may change settings.", field="user")


def user_check_can_write(*, user: User) -> None:
    """Refuse a write by a read-only role (an analyst who manages no team)."""
    if not user_can_write(user=user):
        raise PermissionDeniedError("Your role may read but not change data.", field="user")


def user_can_write(*, user: User) -> bool:
    scope = user_access_scope(user=user)
    return scope.user_id is not None and (scope.is_admin or not scope.is_analyst or scope.is_manager)
