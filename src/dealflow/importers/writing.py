"""Execute an import plan in one transaction: all rows or none (or, when asked, all valid rows).

New deals go through ``dealflow.deals.services`` when there are few of them, and through the bulk
writer (``dealflow.deals.bulk``, which writes exactly what the services would) when there are many;
the derived analytics tables are rebuilt after a bulk load. Changes to records that exist already
always go through the services, so each change records its DealEvent like an edit in the UI would.

Owners created by the import are inactive users. The services refuse inactive owners, so inside the
transaction those users (and inactive users the file names as owners) are active while their records
are written, and inactive again before it commits; nobody can sign in as them in between.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from dealflow.accounts.models import Team, User
from dealflow.accounts.services import (
    audit_record,
    membership_set,
    team_create,
    user_create,
    user_source_set,
    users_active_set,
)
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.services import (
    organization_update,
    organizations_create_many,
    person_update,
    persons_create_many,
)
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.deals import bulk
from dealflow.deals.models import (
    Activity,
    Deal,
    Lead,
    LeadSource,
    LeadStatus,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
)
from dealflow.deals.services import (
    activity_create,
    deal_create,
    deal_lines_set,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
    lead_create,
    lead_source_create,
    lost_reason_create,
    pipeline_create,
    stage_create,
    stage_deactivate,
)
from dealflow.deals.services.sourced import (
    activity_source_set,
    activity_update_from_source,
    lead_status_set_from_source,
    lead_update_from_source,
    leads_convert_from_source,
)
from dealflow.directory.services import search_index_bulk_loaded
from dealflow.importers.fields import Entity
from dealflow.importers.planning import (
    ActivityOp,
    DealChange,
    DealCreate,
    DealStep,
    ImportPlan,
    RecordOp,
    UserOp,
)
from dealflow.importers.references import Ref
from dealflow.products.models import Product
from dealflow.products.services import product_create

ORIGIN = "import"
BULK_CHUNK = 5000
DEFER_INDEXES_FROM = 50_000  # new deals; the demo generator uses the same threshold


def bulk_threshold() -> int:
    return int(str(settings.DEALFLOW.get("IMPORT_BULK_THRESHOLD", 500)))


@dataclass
class Rejection:
    sheet: str
    line: int
    reason: str


@dataclass
class WriteResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    used_bulk: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # the bulk writer's close, by part

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": len(self.rejected),
            "rejections": [
                {"sheet": item.sheet, "line": item.line, "reason": item.reason}
                for item in self.rejected[:500]
            ],
            "used_bulk": self.used_bulk,
            "seconds": round(self.seconds, 2),
        }


def plan_check_writable(plan: ImportPlan) -> None:
    """Refuse to write a plan with open questions, or with problems unless only valid rows are wanted."""
    if plan.blocking_questions:
        raise ApplicationError(
            _("Answer the %(count)s open question(s) of the preview first.")
            % {"count": len(plan.blocking_questions)},
            field="questions",
        )
    if plan.error_count and not plan.options.keep_valid:
        raise ApplicationError(
            _(
                "%(count)s problem(s) in the file; nothing was imported. Fix them, or import only the valid rows (the rejected ones come back as a file)."
            )
            % {"count": plan.error_count},
            field="file",
        )


def plan_write(
    plan: ImportPlan,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    use_bulk: bool | None = None,
) -> WriteResult:
    """Write the plan atomically; with ``keep_valid`` a failing row is rejected instead of the whole file."""
    plan_check_writable(plan)
    if plan.stream is not None and plan.stream.creates is None:
        raise ApplicationError(
            "This plan was built for a preview only and kept none of its rows; build it with for_writing=True.",
            field="file",
        )  # a programming error, said plainly instead of importing nothing
    started = clock.now()
    result = WriteResult()
    reasons_by_row: dict[tuple[str, int | None], list[str]] = {}
    for problem in plan.problems.items:
        if problem.severity == "error":
            reasons_by_row.setdefault((problem.sheet, problem.line), []).append(problem.reason)
    for sheet, line in plan.rejected_rows():
        reasons = reasons_by_row.get((sheet, line), [])
        result.rejected.append(Rejection(sheet, line, "; ".join(reasons[:3]) or _("Rejected.")))
    if use_bulk is None:
        use_bulk = plan.deals_create_count + len(plan.leads) > bulk_threshold()
    with transaction.atomic():
        writer = _Writer(plan, result, progress, use_bulk=use_bulk)
        writer.run()
        audit_record(
            actor=plan.by,
            action="import.applied",
            target=f"file:{plan.workbook.name}"[:200],
            detail={
                "source": plan.source,
                "created": result.created,
                "updated": result.updated,
                "rejected": len(result.rejected),
                "bulk": use_bulk,
            },
        )
    result.used_bulk = use_bulk
    result.seconds = (clock.now() - started).total_seconds()
    return result


class _Writer:
    def __init__(self, plan: ImportPlan, result: WriteResult, progress, *, use_bulk: bool) -> None:
        self.plan = plan
        self.result = result
        self.progress = progress
        self.use_bulk = use_bulk
        self.keep_valid = plan.options.keep_valid
        self.by = plan.by
        self.source = plan.source
        self.ids: dict[str, int] = {}
        self.users: dict[int, User] = {}
        self.to_deactivate: set[int] = set()
        total = (
            len(plan.organizations)
            + len(plan.persons)
            + len(plan.leads)
            + plan.deals_create_count
            + plan.deals_change_count
            + len(plan.activities)
        )
        self.total = max(1, total)
        self.done = 0

    # -- helpers --

    def ref(self, ref: Ref | None) -> int | None:
        if ref is None:
            return None
        if isinstance(ref, int):
            return ref
        return self.ids.get(ref)

    def id(self, ref: Ref | None) -> int:
        """The id behind a reference that must resolve (a stage, a reason, a record written earlier)."""
        value = self.ref(ref)
        if value is None:
            raise ApplicationError(_("A record this row refers to was not written."), field="file")
        return value

    def user(self, ref: Ref | None) -> User | None:
        user_id = self.ref(ref)
        if user_id is None:
            return None
        if user_id not in self.users:
            self.users[user_id] = User.objects.get(pk=user_id)
        user = self.users[user_id]
        if not user.is_active:
            users_active_set(user_ids=[user_id], is_active=True)
            user.is_active = True
            self.to_deactivate.add(user_id)
        return user

    def tick(self, count: int = 1, label: str = "") -> None:
        self.done += count
        if self.progress is not None and (self.done % 500 < count or self.done >= self.total):
            self.progress(self.done, self.total, label or _("Writing"))

    def count(self, kind: dict[str, int], entity: str, number: int = 1) -> None:
        kind[entity] = kind.get(entity, 0) + number

    def reject(self, sheet: str, line: int, error: ApplicationError) -> None:
        if not self.keep_valid:
            raise ApplicationError(
                _("%(sheet)s line %(line)s: %(reason)s Nothing was imported.")
                % {"sheet": sheet, "line": line, "reason": error.message},
                field=error.field,
            )
        self.result.rejected.append(Rejection(sheet, line, error.message))

    def guarded(self, sheet: str, line: int, action: Callable[[], Any]) -> bool:
        """Run one record's writes; with keep_valid a refusal rejects that record only (a savepoint)."""
        try:
            with transaction.atomic():
                action()
            return True
        except ApplicationError as error:
            self.reject(sheet, line, error)
            return False

    # -- the run --

    def phase(self, label: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, label)

    def run(self) -> None:
        self.phase(_("Reference data"))
        self.reference_data()
        self.roster()
        self.new_users()
        self.phase(_("Organizations"))
        self.organizations()
        self.phase(_("Persons"))
        self.persons()
        if self.use_bulk:
            self.phase(_("Deals"))
            self.bulk_leads_and_deals()
        else:
            self.phase(_("Leads"))
            self.leads()
            self.phase(_("Deals"))
            self.deals()
        self.deal_changes()
        self.phase(_("Activities"))
        self.activities()
        if self.to_deactivate:
            users_active_set(user_ids=self.to_deactivate, is_active=False)

    def reference_data(self) -> None:
        """Lost reasons, lead sources, pipelines, stages and products the file adds, through the services that
        admins use in the settings (each audited)."""
        plan = self.plan
        names, stages = plan.names, plan.stages
        assert names is not None and stages is not None
        for key, name in names.new_reasons.items():
            reason = LostReason.objects.filter(name__iexact=name).first()
            self.ids[key] = (reason or lost_reason_create(name=name, by=self.by)).pk
        for key, (slug, name) in names.new_sources.items():
            source = LeadSource.objects.filter(key=slug).first()
            self.ids[key] = (source or lead_source_create(key=slug, name=name, by=self.by)).pk
        for key, name in names.new_products.items():
            code = slugify(name)[:40] or "product"
            existing = Product.objects.filter(code__iexact=code).first()
            product = existing or product_create(name=name, code=code, by=self.by)
            self.ids[key] = product.pk
        for key, name in stages.new_pipelines.items():
            # The service's default open stages are retired at once: the file's own stages follow.
            pipeline = pipeline_create(name=name, with_default_stages=True, by=self.by)
            self.ids[key] = pipeline.pk
            for stage in pipeline.stages.order_by("order"):
                if stage.kind == StageKind.OPEN:
                    stage_deactivate(stage=stage, by=self.by)
                else:
                    self.ids[f"stage:{key}:{stage.kind}"] = stage.pk
        next_order: dict[int, int] = {}
        for new in stages.new_stage_order():
            pipeline_id = self.ref(new.pipeline)
            assert pipeline_id is not None
            pipeline = Pipeline.objects.get(pk=pipeline_id)
            if pipeline_id not in next_order:
                last = pipeline.stages.filter(kind=StageKind.OPEN).order_by("-order").first()
                next_order[pipeline_id] = (last.order + 1) if last else 0
            stage = stage_create(
                pipeline=pipeline,
                name=new.name,
                probability=new.probability,
                order=next_order[pipeline_id],
                by=self.by,
            )
            next_order[pipeline_id] += 1
            self.ids[new.key] = stage.pk
        for pipeline in Pipeline.objects.all():
            for kind in (StageKind.WON, StageKind.LOST):
                key = f"stage:{pipeline.pk}:{kind}"
                if key not in self.ids:
                    closing = (
                        Stage.objects.filter(pipeline=pipeline, kind=kind)
                        .order_by("-is_active", "order")
                        .first()
                    )
                    if closing is not None:
                        self.ids[key] = closing.pk

    def roster(self) -> None:
        """Accounts of a users sheet, through the account services (each audited)."""
        teams = {team.name.lower(): team for team in Team.objects.all()}
        for operation in self.plan.users:

            def write(operation: UserOp = operation) -> None:
                user = operation.existing
                if user is None:
                    user = user_create(
                        username=operation.username, password=None, email=operation.email,
                        first_name=operation.first_name, last_name=operation.last_name, by=self.by,
                    )  # fmt: skip
                self.ids[operation.key] = user.pk
                if operation.team:
                    team = teams.get(operation.team.lower())
                    if team is None:
                        team = teams[operation.team.lower()] = team_create(name=operation.team, by=self.by)
                    membership_set(user=user, team=team, role=operation.role, by=self.by)

            if self.guarded(operation.sheet, operation.line, write):
                kind = self.result.updated if operation.existing else self.result.created
                self.count(kind, Entity.USERS.value)

    def new_users(self) -> None:
        owners = self.plan.owners
        assert owners is not None
        for key, new in owners.new_users.items():
            user = user_create(
                username=new.username,
                password=None,
                email=new.email,
                first_name=new.first_name,
                last_name=new.last_name,
                is_active=True,
                by=self.by,
            )
            user_source_set(user=user, external_source=self.source, external_id=new.external_id)
            self.ids[key] = user.pk
            self.users[user.pk] = user
            self.to_deactivate.add(user.pk)
            self.count(self.result.created, "users")

    def record_values(self, operation: RecordOp) -> dict[str, Any]:
        values = dict(operation.values)
        for name in ("organization", "person", "source"):
            if name in values:
                values[name] = self.ref(values[name])
        if "owner" in values:
            values["owner"] = self.user(values["owner"])
        return values

    def organizations(self) -> None:
        creates: list[tuple[RecordOp, dict[str, Any]]] = []
        for operation in self.plan.organizations:
            values = self.record_values(operation)
            if operation.existing is None:
                if values.get("external_id"):
                    values["external_source"] = self.source
                creates.append((operation, values))
            else:
                data = {
                    name: value
                    for name, value in values.items()
                    if name in {"name", "website", "industry", "country", "owner"}
                }
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(organization_update, organization=operation.existing, data=data, by=self.by),
                ):
                    self.count(self.result.updated, Entity.ORGANIZATIONS.value)
            self.tick(label=_("Organizations"))
        self._create_many(creates, organizations_create_many, Entity.ORGANIZATIONS)

    def _create_many(self, creates: list[tuple[RecordOp, dict[str, Any]]], service, entity: Entity) -> None:
        """New contacts through the contacts service that creates many at once, 2,000 a call; a refused
        batch is retried one record at a time, so the refusal names its line (and keep_valid leaves it out)."""
        now = clock.now()
        created = 0
        for start in range(0, len(creates), 2000):
            batch = creates[start : start + 2000]
            try:
                records = service(records=[values for _operation, values in batch], at=now)
            except ApplicationError:
                records = []
                for operation, values in batch:
                    try:
                        records.extend(service(records=[values], at=now))
                    except ApplicationError as refusal:
                        self.reject(operation.sheet, operation.line, refusal)  # raises unless keep_valid
                        records.append(None)
            for (operation, _values), record in zip(batch, records, strict=True):
                if record is None:
                    continue
                if record.pk is None:  # SQLite and PostgreSQL return the new ids; a guard for others
                    raise ApplicationError(f"The database did not return ids for new {entity.value}.")
                self.ids[operation.key] = record.pk
                created += 1
        if created:
            self.count(self.result.created, entity.value, created)

    def persons(self) -> None:
        creates: list[tuple[RecordOp, dict[str, Any]]] = []
        for operation in self.plan.persons:
            values = self.record_values(operation)
            if operation.existing is None:
                if values.get("external_id"):
                    values["external_source"] = self.source
                creates.append((operation, values))
            else:
                data = {
                    name: value
                    for name, value in values.items()
                    if name
                    in {"first_name", "last_name", "email", "phone", "job_title", "owner", "organization"}
                }
                if "organization" in data and data["organization"] is not None:
                    data["organization"] = Organization.objects.get(pk=data["organization"])
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(person_update, person=operation.existing, data=data, by=self.by),
                ):
                    self.count(self.result.updated, Entity.PERSONS.value)
            self.tick(label=_("Persons"))
        self._create_many(creates, persons_create_many, Entity.PERSONS)

    # -- leads --

    def lead_conversion_times(self) -> dict[Ref, dt.datetime]:
        if self.plan.stream is not None:
            return self.plan.stream.conversions
        created = {spec.key: spec.created_at for spec in self.plan.deals_create}
        return {
            lead: created[deal_key] for lead, deal_key in self.plan.lead_conversions if deal_key in created
        }

    def leads(self) -> None:
        converted = self.lead_conversion_times()
        for operation in self.plan.leads:
            values = self.record_values(operation)
            if operation.existing is None:

                def create(operation=operation, values=values) -> None:
                    status = values["status"]
                    lead = self._lead_create(values)
                    closed_at = converted.get(operation.key)
                    if closed_at is not None:
                        status = LeadStatus.CONVERTED
                    self._lead_finish(lead, status, closed_at, values)
                    self.ids[operation.key] = lead.pk

                if self.guarded(operation.sheet, operation.line, create):
                    self.count(self.result.created, Entity.LEADS.value)
            else:
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self._lead_update, operation.existing, values),
                ):
                    self.count(self.result.updated, Entity.LEADS.value)
            self.tick(label=_("Leads"))
        self.convert_existing_leads(converted)

    def _lead_create(self, values: dict[str, Any]) -> Lead:
        qualification = {
            name: values[name]
            for name in ("has_budget", "has_authority", "has_need", "has_timeline")
            if name in values
        }
        lead = lead_create(
            title=values["title"],
            source=LeadSource.objects.get(pk=values["source"]),
            owner=values["owner"],
            by=self.by,
            organization=Organization.objects.get(pk=values["organization"])
            if values.get("organization")
            else None,
            person=Person.objects.get(pk=values["person"]) if values.get("person") else None,
            at=values["created_at"],
            external_source=self.source if values.get("external_id") else "",
            external_id=values.get("external_id", ""),
            **qualification,
        )
        return lead

    def _lead_finish(
        self, lead: Lead, status: str, closed_at: dt.datetime | None, values: dict[str, Any]
    ) -> None:
        """Imports carry the source system's lead status as a fact; the lead services only move forward."""
        lead_status_set_from_source(
            lead=lead,
            status=status,
            closed_at=closed_at,
            disqualified_reason=values.get("disqualified_reason", ""),
        )

    def _lead_update(self, lead: Lead, values: dict[str, Any]) -> None:
        lead_update_from_source(lead=lead, values=values)

    def convert_existing_leads(self, converted: dict[Ref, dt.datetime]) -> None:
        leads_convert_from_source(
            converted={lead: closed_at for lead, closed_at in converted.items() if isinstance(lead, int)}
        )

    # -- deals through the services --

    def deals(self) -> None:
        stages = {stage.pk: stage for stage in Stage.objects.all()}
        reasons = {reason.pk: reason for reason in LostReason.objects.all()}
        for spec in itertools.chain.from_iterable(self.plan.deal_create_chunks()):

            def create(spec: DealCreate = spec) -> None:
                owner = self.user(spec.owner)
                assert owner is not None
                stage = stages[self.ref(spec.stage)]  # type: ignore[index]
                lead_id = self.ref(spec.lead)
                deal = deal_create(
                    title=spec.title,
                    owner=owner,
                    by=self.by,
                    pipeline=stage.pipeline,
                    stage=stage,
                    amount=from_minor(spec.amount_minor, spec.currency),
                    currency=spec.currency,
                    expected_close_on=spec.expected_close_on,
                    organization=Organization.objects.get(pk=self.id(spec.organization))
                    if spec.organization is not None
                    else None,
                    person=Person.objects.get(pk=self.id(spec.person)) if spec.person is not None else None,
                    source=LeadSource.objects.get(pk=self.id(spec.source))
                    if spec.source is not None
                    else None,
                    lead=Lead.objects.get(pk=lead_id) if lead_id else None,
                    probability_override=spec.probability_override,
                    forecast_category_override=spec.forecast_category_override,
                    next_step=spec.next_step,
                    at=spec.created_at,
                    origin=ORIGIN,
                    external_source=self.source if spec.external_id else "",
                    external_id=spec.external_id,
                )
                self.ids[spec.key] = deal.pk
                if spec.product is not None:
                    self.product_line(deal, spec.product, spec.created_at)
                for step in spec.steps:
                    self.apply_step(deal, step, stages, reasons)
                for activity in spec.activities:
                    self.activity_create(activity, deal)

            if self.guarded(spec.sheet, spec.line, create):
                self.count(self.result.created, Entity.DEALS.value)
                if spec.activities:
                    self.count(self.result.created, Entity.ACTIVITIES.value, len(spec.activities))
            self.tick(label=_("Deals"))

    def product_line(self, deal: Deal, product: Ref, at: dt.datetime) -> None:
        """The product column as the deal's one line item, priced at the deal's amount."""
        deal_lines_set(
            deal=deal,
            lines=[
                {
                    "product": Product.objects.get(pk=self.id(product)),
                    "quantity": 1,
                    "unit_price": str(from_minor(deal.amount_minor, deal.currency)),
                }
            ],
            by=self.by,
            at=at,
            origin=ORIGIN,
        )

    def apply_step(
        self, deal: Deal, step: DealStep, stages: dict[int, Stage], reasons: dict[int, LostReason]
    ) -> None:
        if step.kind == "move":
            deal_move_to_stage(
                deal=deal, stage=stages[self.id(step.stage)], by=self.by, at=step.at, origin=ORIGIN
            )  # type: ignore[index]
        elif step.kind == "won":
            deal_mark_won(deal=deal, by=self.by, at=step.at, origin=ORIGIN, schedule_follow_up=False)
        elif step.kind == "lost":
            deal_mark_lost(
                deal=deal, reason=reasons.get(self.id(step.reason)), by=self.by, at=step.at, origin=ORIGIN
            )  # type: ignore[arg-type]
        elif step.kind == "reopen":
            stage_id = self.ref(step.stage)
            deal_reopen(
                deal=deal, by=self.by, stage=stages[stage_id] if stage_id else None, at=step.at, origin=ORIGIN
            )
        elif step.kind == "update":
            data: dict[str, Any] = {}
            changes = step.changes or {}
            if "amount_minor" in changes:
                data["amount"] = from_minor(changes["amount_minor"], changes.get("currency", deal.currency))
            if "currency" in changes:
                data["currency"] = changes["currency"]
            if "expected_close_on" in changes:
                data["expected_close_on"] = changes["expected_close_on"]
            deal_update(deal=deal, by=self.by, data=data, at=step.at, origin=ORIGIN)

    # -- leads and deals through the bulk writer --

    def _bulk_steps(self, spec: DealCreate) -> list[bulk.Step]:
        by_id = self.by.pk
        steps: list[bulk.Step] = []
        for step in spec.steps:
            if step.kind == "move":
                steps.append(bulk.Move(at=step.at, stage_id=self.ref(step.stage), by_id=by_id, origin=ORIGIN))  # type: ignore[arg-type]
            elif step.kind == "won":
                steps.append(bulk.Won(at=step.at, by_id=by_id, origin=ORIGIN, schedule_follow_up=False))
            elif step.kind == "lost":
                steps.append(
                    bulk.Lost(at=step.at, reason_id=self.ref(step.reason), by_id=by_id, origin=ORIGIN)
                )
            elif step.kind == "reopen":
                steps.append(
                    bulk.Reopen(at=step.at, stage_id=self.ref(step.stage), by_id=by_id, origin=ORIGIN)
                )
            elif step.kind == "update":
                steps.append(
                    bulk.Update(at=step.at, changes=dict(step.changes or {}), by_id=by_id, origin=ORIGIN)
                )
        for activity in spec.activities:
            steps.append(bulk.LogActivity(self._bulk_activity(activity)))
        return steps

    def _bulk_activity(
        self, operation: ActivityOp, leads: dict[Ref, bulk.BulkLead] | None = None
    ) -> bulk.BulkActivity:
        values = operation.values
        owner = self.user(values["owner"])
        assert owner is not None
        lead_ref = values.get("lead")
        lead = (leads or {}).get(lead_ref) if isinstance(lead_ref, str) else None
        return bulk.BulkActivity(
            kind=values["kind"],
            subject=values["subject"],
            owner_id=owner.pk,
            at=values["at"],
            notes=values.get("notes", ""),
            due_at=values.get("due_at"),
            done_at=values.get("done_at"),
            person_id=self.ref(values.get("person")),
            lead=lead,
            lead_id=self.ref(lead_ref) if lead is None else None,
            origin=ORIGIN,
            external_source=self.source if values.get("external_id") else "",
            external_id=values.get("external_id", ""),
        )

    def bulk_leads_and_deals(self) -> None:
        converted = self.lead_conversion_times()
        new_leads: dict[str, bulk.BulkLead] = {}
        lead_specs: list[bulk.BulkLead] = []
        for operation in self.plan.leads:
            values = self.record_values(operation)
            if operation.existing is not None:
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self._lead_update, operation.existing, values),
                ):
                    self.count(self.result.updated, Entity.LEADS.value)
                continue
            status = values["status"]
            closed_at = converted.get(operation.key)
            if closed_at is not None:
                status = LeadStatus.CONVERTED
            if status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
                closed_at = closed_at or values["created_at"]
            owner = values["owner"]
            new_lead = bulk.BulkLead(
                title=values["title"],
                source_id=values["source"],
                owner_id=owner.pk,
                created_at=values["created_at"],
                status=str(status),
                organization_id=values.get("organization"),
                person_id=values.get("person"),
                has_budget=values.get("has_budget", False),
                has_authority=values.get("has_authority", False),
                has_need=values.get("has_need", False),
                has_timeline=values.get("has_timeline", False),
                disqualified_reason=values.get("disqualified_reason", ""),
                qualified_at=values["created_at"] if status == LeadStatus.QUALIFIED else None,
                closed_at=closed_at if status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) else None,
                external_source=self.source if values.get("external_id") else "",
                external_id=values.get("external_id", ""),
            )
            new_leads[operation.key] = new_lead
            lead_specs.append(new_lead)
        # Moving in: a big first import into a database without deals builds the secondary indexes once
        # at the end (the bulk writer's defer_indexes) instead of row by row; nobody reads those tables yet.
        # On PostgreSQL the foreign keys go aside too and come back with one validating join per key instead
        # of a trigger per row (most of the time of a 100,000-deal import); a bad reference still fails the
        # whole import, as the deferred checks did at the end.
        has_deals = Deal.objects.exists()
        defer = self.plan.deals_create_count >= DEFER_INDEXES_FROM and not has_deals
        # Into a database with deals, the writer works out the analytics rows (DealFact, StayFact, monthly
        # totals) of the deals it writes during the replay, so closing does not rebuild those tables from
        # every deal in the database. Into an empty one, the rebuild in SQL covers only the new deals and
        # was faster (docs/benchmarks.md, "Import").
        writer = bulk.BulkWriter(defer_indexes=defer, defer_foreign_keys=defer, derived_rows=has_deals)
        bulk_deal_ids: array[int] = array("q")
        with_product: list[tuple[int, Ref, dt.datetime]] = []  # (deal id, product, at)
        try:
            if lead_specs:
                self._bulk_write(writer, leads=lead_specs, deals=[], label=_("Leads"))
                for key, lead in new_leads.items():
                    self.ids[key] = lead.id  # type: ignore[assignment]
                self.count(self.result.created, Entity.LEADS.value, len(lead_specs))
            # A chunk of the plan at a time (a streamed plan reads them back from disk), BULK_CHUNK deals a write.
            for specs in self.plan.deal_create_chunks():
                for start in range(0, len(specs), BULK_CHUNK):
                    chunk = self._bulk_deals(specs[start : start + BULK_CHUNK], new_leads)
                    writer.users_activated(self.to_deactivate)  # owners made active for the import
                    written = self._bulk_write(writer, leads=[], deals=chunk, label=_("Deals"))
                    for spec, bulk_deal in written:
                        assert bulk_deal.id is not None
                        if self.plan.stream is None:
                            self.ids[spec.key] = bulk_deal.id  # activities of other sheets may refer to it
                        bulk_deal_ids.append(bulk_deal.id)
                        if spec.product is not None:
                            with_product.append((bulk_deal.id, spec.product, spec.created_at))
                        self.count(self.result.created, Entity.DEALS.value)
                        if spec.activities:
                            self.count(self.result.created, Entity.ACTIVITIES.value, len(spec.activities))
                del specs
            self.phase(_("Indexes and analytics tables"))
            timings = self.result.timings
            timings.update({f"writes: {name}": value for name, value in writer.write_seconds.items()})
            writer.close(timings=timings)  # deferred indexes, derived tables, statistics
            search_index_bulk_loaded(  # the bulk writer bypasses the services that keep the search index
                deal_ids=list(bulk_deal_ids),
                lead_ids=[lead.id for lead in new_leads.values() if lead.id is not None]
                if lead_specs
                else [],
            )
        except BaseException:
            writer.__exit__(*sys.exc_info())
            raise
        self.convert_existing_leads(converted)
        for deal_id, product, at in with_product:
            self.product_line(Deal.objects.get(pk=deal_id), product, at)

    def _bulk_deals(
        self, specs: list[DealCreate], new_leads: dict[str, bulk.BulkLead]
    ) -> list[tuple[DealCreate, bulk.BulkDeal]]:
        """The bulk writer's view of some planned deals (ids resolved, leads attached, steps built)."""
        existing_leads: dict[int, bulk.BulkLead] = {}
        wanted = {self.ref(spec.lead) for spec in specs if isinstance(spec.lead, int)}
        for lead_row in Lead.objects.filter(pk__in=[pk for pk in wanted if pk]):
            existing_leads[lead_row.pk] = bulk.BulkLead(
                title=lead_row.title, source_id=lead_row.source_id, owner_id=lead_row.owner_id,
                created_at=lead_row.created_at, id=lead_row.pk,
            )  # fmt: skip
        deals: list[tuple[DealCreate, bulk.BulkDeal]] = []
        for spec in specs:
            owner = self.user(spec.owner)
            assert owner is not None
            lead: bulk.BulkLead | None = (
                new_leads.get(spec.lead)
                if isinstance(spec.lead, str)
                else existing_leads.get(spec.lead)
                if spec.lead
                else None
            )  # type: ignore[arg-type]
            bulk_deal = bulk.BulkDeal(
                title=spec.title,
                owner_id=owner.pk,
                pipeline_id=self.ref(spec.pipeline),  # type: ignore[arg-type]
                stage_id=self.ref(spec.stage),  # type: ignore[arg-type]
                created_at=spec.created_at,
                amount_minor=spec.amount_minor,
                currency=spec.currency,
                expected_close_on=spec.expected_close_on,
                organization_id=self.ref(spec.organization),
                person_id=self.ref(spec.person),
                source_id=self.ref(spec.source),
                lead=lead,
                probability_override=spec.probability_override,
                forecast_category_override=spec.forecast_category_override,
                next_step=spec.next_step,
                by_id=self.by.pk,
                origin=ORIGIN,
                external_source=self.source if spec.external_id else "",
                external_id=spec.external_id,
                steps=[],
            )
            deals.append((spec, bulk_deal))
        for spec, bulk_deal in deals:
            bulk_deal.steps = self._bulk_steps(spec)
        return deals

    def _bulk_write(self, writer: bulk.BulkWriter, *, leads, deals, label: str) -> list:
        """One bulk write (a savepoint); a refused chunk is retried deal by deal to name the row at fault."""
        try:
            writer.write(leads=leads, deals=[bulk_deal for _spec, bulk_deal in deals])
        except ApplicationError as error:
            if len(deals) <= 1:
                spec = deals[0][0] if deals else None
                self.reject(spec.sheet if spec else "", spec.line if spec else 0, error)
                return []
            written = []
            for item in deals:
                written.extend(self._bulk_write(writer, leads=[], deals=[item], label=label))
            return written
        self.tick(len(leads) + len(deals), label)
        return deals

    # -- changes to deals that exist --

    def deal_changes(self) -> None:
        if not self.plan.deals_change_count:
            return
        stages = {stage.pk: stage for stage in Stage.objects.all()}
        reasons = {reason.pk: reason for reason in LostReason.objects.all()}
        for change in itertools.chain.from_iterable(self.plan.deal_change_chunks()):

            def apply(change: DealChange = change) -> None:
                deal = Deal.objects.select_related("stage", "pipeline").get(pk=change.deal.pk)
                data: dict[str, Any] = {}
                product = change.data.get("product")
                for name, value in change.data.items():
                    if name == "product":
                        continue
                    if name == "amount_minor":
                        data["amount"] = from_minor(value, change.data.get("currency", deal.currency))
                    elif name == "owner":
                        data["owner"] = self.user(value)
                    elif name == "organization":
                        data["organization"] = Organization.objects.get(pk=self.id(value))
                    elif name == "person":
                        data["person"] = Person.objects.get(pk=self.id(value))
                    elif name == "source":
                        data["source"] = LeadSource.objects.get(pk=self.id(value))
                    else:
                        data[name] = value
                if data:
                    deal_update(deal=deal, by=self.by, data=data, origin=ORIGIN)
                if product is not None:
                    self.product_line(deal, product, clock.now())
                for step in change.steps:
                    self.apply_step(deal, step, stages, reasons)

            if self.guarded(change.sheet, change.line, apply):
                self.count(self.result.updated, Entity.DEALS.value)
            self.tick(label=_("Deals"))

    # -- activities --

    def activity_create(self, operation: ActivityOp, deal: Deal | None) -> Activity:
        values = operation.values
        lead_id = self.ref(values.get("lead"))
        person_id = self.ref(values.get("person"))
        activity = activity_create(
            owner=self.user(values["owner"]),  # type: ignore[arg-type]
            subject=values["subject"],
            kind=values["kind"],
            by=self.by,
            deal=deal,
            lead=Lead.objects.get(pk=lead_id) if lead_id else None,
            person=Person.objects.get(pk=person_id) if person_id else None,
            notes=values.get("notes", ""),
            due_at=values.get("due_at"),
            done_at=values.get("done_at"),
            at=values["at"],
            origin=ORIGIN,
        )
        if values.get("external_id"):
            activity_source_set(
                activity=activity, external_source=self.source, external_id=values["external_id"]
            )
        return activity

    def activities(self) -> None:
        for operation in self.plan.activities:
            if operation.existing is not None:

                def update(operation: ActivityOp = operation) -> None:
                    assert operation.existing is not None
                    activity_update_from_source(
                        activity=operation.existing,
                        values={
                            name: self.user(value) if name == "owner" else value
                            for name, value in operation.values.items()
                        },
                    )

                if self.guarded(operation.sheet, operation.line, update):
                    self.count(self.result.updated, Entity.ACTIVITIES.value)
            else:
                deal_id = self.ref(operation.deal)
                deal = Deal.objects.get(pk=deal_id) if deal_id else None
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self.activity_create, operation, deal),
                ):
                    self.count(self.result.created, Entity.ACTIVITIES.value)
            self.tick(label=_("Activities"))


def rejects_write(plan: ImportPlan, rejections: list[Rejection], path: str | Path) -> int:
    """A CSV (UTF-8 with BOM) of the rejected rows as they were in the file, with the line and the reason."""
    by_sheet: dict[str, dict[int, str]] = {}
    for rejection in rejections:
        by_sheet.setdefault(rejection.sheet, {})[rejection.line] = rejection.reason
    written = 0
    with Path(path).open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for parsed in plan.sheets:
            reasons = by_sheet.get(parsed.name)
            if not reasons:
                continue
            writer.writerow([_("file"), _("line"), _("reason"), *parsed.sheet.headers])
            for line, cells in parsed.sheet.rows():
                if line in reasons:
                    writer.writerow([parsed.name, line, reasons[line], *[_cell_text(cell) for cell in cells]])
                    written += 1
    return written


def _cell_text(value: Any) -> str:
    from dealflow.importers.export import neutralise

    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return neutralise(str(value))
