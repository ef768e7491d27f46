"""Reference data (reasons, sources, products, pipelines, stages), accounts, organizations and persons, through their services."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _

from dealflow.accounts.models import Team
from dealflow.accounts.services import (
    membership_set,
    team_create,
    user_create,
    user_source_set,
)
from dealflow.contacts.models import Organization
from dealflow.contacts.services import organizations_create_many, persons_create_many
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import (
    LeadSource,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
)
from dealflow.deals.services import (
    lead_source_create,
    lost_reason_create,
    pipeline_create,
    stage_create,
    stage_deactivate,
)

# The web/API rename's services: a new name also refreshes the search entries of the deals, leads and people
# that carry it (one rule, directory.services._reindex_named).
from dealflow.directory.services import organization_change, person_change
from dealflow.importers.fields import Entity
from dealflow.importers.planning import (
    RecordOp,
    UserOp,
)
from dealflow.importers.writing.base import WriterBase
from dealflow.products.models import Product
from dealflow.products.services import product_create


class ContactsPart(WriterBase):
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
                        username=operation.username,
                        password=None,
                        email=operation.email,
                        first_name=operation.first_name,
                        last_name=operation.last_name,
                        by=self.by,
                    )
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

    def organizations(self) -> None:
        creates: list[tuple[RecordOp, dict[str, Any]]] = []
        # Translated once, not once a row: 19,545 gettext calls were 1.2 s of CPU under cProfile.
        label = _("Organizations")
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
                    partial(organization_change, organization=operation.existing, data=data, by=self.by),
                ):
                    self.count(self.result.updated, Entity.ORGANIZATIONS.value)
            self.tick(label=label)
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
        label = _("Persons")  # once, as for organizations
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
                    partial(person_change, person=operation.existing, data=data, by=self.by),
                ):
                    self.count(self.result.updated, Entity.PERSONS.value)
            self.tick(label=label)
        self._create_many(creates, persons_create_many, Entity.PERSONS)
