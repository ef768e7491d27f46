"""The writer's state and what every part uses: references to ids, owners made active, progress, rejections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.services import (
    users_active_set,
)
from dealflow.core.errors import ApplicationError
from dealflow.importers.planning import (
    ImportPlan,
    RecordOp,
)
from dealflow.importers.references import Ref
from dealflow.importers.writing.result import Rejection, WriteResult

ORIGIN = "import"
BULK_CHUNK = 5000
DEFER_INDEXES_FROM = 50_000  # new deals; the demo generator uses the same threshold


class WriterBase:
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

    def user_required(self, ref: Ref | None) -> User:
        """The user behind a reference that must resolve (an activity's owner)."""
        user = self.user(self.id(ref))
        assert user is not None  # an id always loads its user
        return user

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

    def phase(self, label: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, label)

    def record_values(self, operation: RecordOp) -> dict[str, Any]:
        values = dict(operation.values)
        for name in ("organization", "person", "source"):
            if name in values:
                values[name] = self.ref(values[name])
        if "owner" in values:
            values["owner"] = self.user(values["owner"])
        return values
