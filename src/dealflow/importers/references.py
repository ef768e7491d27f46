"""Names in a file matched to what Dealflow has: owners, pipelines, stages, lost reasons and lead sources.

Owners are matched by the source system's id, then by username, e-mail or full name (a users sheet in
the same file tells who an opaque owner id is). Pipelines and stages are matched by name, loosely; a
stage called "Closed Won" or "Verloren" is the pipeline's won or lost stage. Whatever stays unknown is
a ``Question`` unless the options already answer it. References to records created by this import are
string keys (``Ref``); the writer turns them into ids once those records exist.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_editable_q, user_access_scope
from dealflow.deals.models import LeadSource, LostReason, Pipeline, Stage, StageKind
from dealflow.importers.parsing import Question
from dealflow.importers.values import normalize_name
from dealflow.products.models import Product

Ref = int | str  # an existing row's id, or the key of a row this import creates

WON_NAMES = {
    normalize_name(name)
    for name in (
        "won",
        "closed won",
        "closedwon",
        "gewonnen",
        "deal won",
        "closed - won",
        "closed-won",
        "win",
    )
}
LOST_NAMES = {
    "lost",
    "closed lost",
    "closedlost",
    "verloren",
    "deal lost",
    "closed - lost",
    "closed-lost",
    "loss",
}
STATUS_WORDS = {
    **dict.fromkeys(("open", "active", "actief", "lopend", "in progress"), "open"),
    **dict.fromkeys(WON_NAMES, "won"),
    **dict.fromkeys(LOST_NAMES, "lost"),
    "deleted": "deleted",
    "verwijderd": "deleted",
}


STATUS_WORDS = {normalize_name(key): value for key, value in STATUS_WORDS.items()}


def _pipeline_key(text: str) -> str:
    name = normalize_name(text)
    name = re.sub(r"\b(pipeline|trechter|verkooptrechter)\b", "", name).strip()
    return name or normalize_name(text)


@dataclass
class StageInfo:
    ref: Ref
    name: str
    kind: str
    pipeline: Ref
    probability: int | None = None
    forecast_category: str = ""


@dataclass
class NewStage:
    key: str
    pipeline: Ref
    name: str
    probabilities: list[int] = field(default_factory=list)
    first_seen: int = 0

    @property
    def probability(self) -> int:
        """The new stage's probability: the mean the file gives its rows (rounded), else 10 %."""
        if not self.probabilities:
            return 10
        return max(0, min(100, round(sum(self.probabilities) / len(self.probabilities))))


class StageBook:
    """Pipelines and stages by name; unknown ones become questions or, when allowed, new stages."""

    def __init__(
        self, *, options_stages: dict[str, str], options_pipelines: dict[str, str], create: bool
    ) -> None:
        self.create = create
        self.answers_stages = {normalize_name(key): value for key, value in options_stages.items()}
        self.answers_pipelines = {_pipeline_key(key): value for key, value in options_pipelines.items()}
        self.pipelines = list(Pipeline.objects.filter(is_active=True).order_by("-is_default", "order", "id"))
        self.default = self.pipelines[0] if self.pipelines else None
        self.stages_by_pipeline: dict[Ref, list[Stage]] = defaultdict(list)
        for stage in Stage.objects.filter(pipeline__in=self.pipelines).order_by("order", "id"):
            self.stages_by_pipeline[stage.pipeline_id].append(stage)
        self.new_pipelines: dict[str, str] = {}  # key -> name
        self.new_stages: dict[str, NewStage] = {}
        self.questions: dict[tuple[str, str], Question] = {}
        self._cache: dict[tuple[Ref | None, str], StageInfo | None] = {}
        self._first_open: dict[Ref, StageInfo | None] = {}
        self._pipeline_cache: dict[str, Ref | None] = {}

    # -- pipelines --

    def pipeline(self, value: str | None, *, sheet: str) -> Ref | None:
        if not value:
            return self.default.pk if self.default else None
        key = _pipeline_key(value)
        if key in self._pipeline_cache:
            cached = self._pipeline_cache[key]
            if cached is None:
                self.questions[("pipelines", key)].count += 1
            return cached
        ref = self._pipeline_lookup(value, key, sheet)
        self._pipeline_cache[key] = ref
        return ref

    def _pipeline_lookup(self, value: str, key: str, sheet: str) -> Ref | None:
        answer = self.answers_pipelines.get(key)
        if answer == "create" or (answer is None and self.create and not self._find_pipeline(key)):
            found = self._find_pipeline(key)
            if found is not None:
                return found.pk
            new_key = f"pipeline:{key}"
            self.new_pipelines.setdefault(new_key, value.strip()[:120])
            return new_key
        if answer:
            found = self._find_pipeline(_pipeline_key(answer)) or next(
                (pipeline for pipeline in self.pipelines if str(pipeline.pk) == answer), None
            )
            if found is not None:
                return found.pk
        found = self._find_pipeline(key)
        if found is not None:
            return found.pk
        self.questions[("pipelines", key)] = Question(
            "pipelines",
            value,
            sheet,
            _("Pipeline %(name)s does not exist here. Map it to an existing pipeline or create it.")
            % {"name": repr(value)},
            [(pipeline.name, pipeline.name) for pipeline in self.pipelines] + [("create", _("Create it"))],
            [value],
            1,
        )
        return None

    def _find_pipeline(self, key: str) -> Pipeline | None:
        return next((pipeline for pipeline in self.pipelines if _pipeline_key(pipeline.name) == key), None)

    # -- stages --

    def closing(self, pipeline: Ref, kind: str) -> StageInfo:
        if isinstance(pipeline, str):
            return StageInfo(
                f"stage:{pipeline}:{kind}",
                kind.capitalize(),
                kind,
                pipeline,
                100 if kind == "won" else 0,
                "closed",
            )
        stage = next((stage for stage in self.stages_by_pipeline[pipeline] if stage.kind == kind), None)
        if stage is None:
            return StageInfo(f"stage:{pipeline}:{kind}", kind.capitalize(), kind, pipeline, 0, "closed")
        return StageInfo(
            stage.pk, stage.name, stage.kind, pipeline, stage.probability, stage.forecast_category
        )

    def first_open(self, pipeline: Ref) -> StageInfo | None:
        if not isinstance(pipeline, str):
            if pipeline not in self._first_open:
                self._first_open[pipeline] = self._first_open_lookup(pipeline)
            return self._first_open[pipeline]
        return self._first_open_lookup(pipeline)

    def _first_open_lookup(self, pipeline: Ref) -> StageInfo | None:
        if isinstance(pipeline, str):
            candidates = sorted(
                (stage for stage in self.new_stages.values() if stage.pipeline == pipeline),
                key=lambda stage: stage.first_seen,
            )
            if not candidates:
                return None
            return StageInfo(candidates[0].key, candidates[0].name, "open", pipeline)
        stage = next(
            (
                stage
                for stage in self.stages_by_pipeline[pipeline]
                if stage.kind == StageKind.OPEN and stage.is_active
            ),
            None,
        )
        if stage is None:
            return None
        return StageInfo(
            stage.pk, stage.name, stage.kind, pipeline, stage.probability, stage.forecast_category
        )

    def stage(
        self, pipeline: Ref, value: str, *, sheet: str, probability: int | None = None, seen: int = 0
    ) -> StageInfo | None:
        """The stage a name means in a pipeline; None while it waits for an answer."""
        key = normalize_name(value)
        cache_key = (pipeline, key)
        if cache_key in self._cache:
            info = self._cache[cache_key]
            if info is None:
                self.questions[("stages", key)].count += 1
            elif isinstance(info.ref, str) and info.kind == "open" and probability is not None:
                self.new_stages[info.ref].probabilities.append(probability)
            return info
        info = self._stage_lookup(pipeline, value, key, sheet, probability, seen)
        self._cache[cache_key] = info
        return info

    def _stage_lookup(
        self, pipeline: Ref, value: str, key: str, sheet: str, probability: int | None, seen: int
    ) -> StageInfo | None:
        if key in WON_NAMES:
            return self.closing(pipeline, "won")
        if key in LOST_NAMES:
            return self.closing(pipeline, "lost")
        answer = self.answers_stages.get(key)
        existing = [] if isinstance(pipeline, str) else self.stages_by_pipeline[pipeline]
        if answer and answer != "create":
            found = next(
                (
                    stage
                    for stage in existing
                    if normalize_name(stage.name) == normalize_name(answer) or str(stage.pk) == answer
                ),
                None,
            )
            if found is not None:
                return StageInfo(
                    found.pk, found.name, found.kind, pipeline, found.probability, found.forecast_category
                )
            if normalize_name(answer) in WON_NAMES:
                return self.closing(pipeline, "won")
            if normalize_name(answer) in LOST_NAMES:
                return self.closing(pipeline, "lost")
        found = next((stage for stage in existing if normalize_name(stage.name) == key), None)
        if found is not None:
            return StageInfo(
                found.pk, found.name, found.kind, pipeline, found.probability, found.forecast_category
            )
        if answer == "create" or self.create or isinstance(pipeline, str):
            new_key = f"stage:{pipeline}:{key}"
            new = self.new_stages.get(new_key)
            if new is None:
                new = self.new_stages[new_key] = NewStage(
                    new_key, pipeline, value.strip()[:120], first_seen=seen
                )
            if probability is not None:
                new.probabilities.append(probability)
            return StageInfo(new_key, new.name, "open", pipeline)
        open_stages = [stage for stage in existing if stage.kind == StageKind.OPEN and stage.is_active]
        self.questions[("stages", key)] = Question(
            "stages",
            value,
            sheet,
            _("Stage %(name)s does not exist in this pipeline. Map it to an existing stage or create it.")
            % {"name": repr(value)},
            [(stage.name, stage.name) for stage in open_stages] + [("create", _("Create it"))],
            [value],
            1,
        )
        return None

    def new_stage_order(self) -> list[NewStage]:
        """New stages in pipeline order: by the probabilities the file gives them, else as first seen."""

        def rank(stage: NewStage) -> tuple:
            if stage.probabilities:
                return (0, sum(stage.probabilities) / len(stage.probabilities), stage.first_seen)
            return (1, 0, stage.first_seen)

        return sorted(self.new_stages.values(), key=rank)


@dataclass
class NewUser:
    key: str
    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    external_id: str = ""


class OwnerBook:
    """Owner names and ids in the file, matched to users; unknown ones are questions or new inactive users."""

    def __init__(
        self,
        *,
        by: User,
        source: str,
        answers: dict[str, str],
        create: bool,
        default_owner: str,
        aliases: dict[str, dict[str, str]],
    ) -> None:
        self.by = by
        self.source = source
        self.answers = {key.strip().lower(): value for key, value in answers.items()}
        self.create = create
        self.aliases = {key.strip().lower(): value for key, value in aliases.items()}
        self.users = list(User.objects.all())
        self.by_external = {
            user.external_id.lower(): user
            for user in self.users
            if user.external_id and user.external_source == source
        }
        self.by_username = {user.username.lower(): user for user in self.users}
        self.by_email: dict[str, User] = {}
        self.by_name: dict[str, User] = {}
        for user in self.users:
            if user.email:
                self.by_email.setdefault(user.email.lower(), user)
            full = normalize_name(f"{user.first_name} {user.last_name}")
            if full:
                self.by_name.setdefault(full, user)
        self.default: User | None = None
        if default_owner:
            self.default = self.by_username.get(default_owner.lower())
        scope = user_access_scope(user=by)
        self.allowed: set[int] | None = None
        if not scope.is_admin:
            self.allowed = set(
                User.objects.filter(owner_editable_q(user=by, owner_field="id")).values_list("id", flat=True)
            )
        self.new_users: dict[str, NewUser] = {}
        self.planned: dict[
            str, Ref
        ] = {}  # e-mail, username or full name (lowercase) -> key of a user to create
        self.questions: dict[str, Question] = {}
        self.forbidden: dict[str, str] = {}
        self._cache: dict[str, Ref | None] = {}

    def _match(self, value: str) -> User | None:
        lowered = value.strip().lower()
        user = self.by_external.get(lowered)
        if user:
            return user
        candidates = [value]
        alias = self.aliases.get(lowered)
        if alias:
            candidates = [
                alias.get("email", ""),
                alias.get("username", ""),
                alias.get("full_name", ""),
                value,
            ]
        for candidate in candidates:
            text = candidate.strip().lower()
            if not text:
                continue
            user = (
                self.by_email.get(text)
                or self.by_username.get(text)
                or self.by_name.get(normalize_name(text))
            )
            if user:
                return user
        return None

    def owner(self, value: str | None, *, sheet: str) -> Ref | None:
        """The owner a cell names; the importing user when empty; None while it waits for an answer."""
        if not value:
            return (self.default or self.by).pk
        lowered = value.strip().lower()
        if lowered in self.planned:
            return self.planned[lowered]  # a user the same file's users sheet creates
        if lowered in self._cache:
            cached = self._cache[lowered]
            if cached is None and lowered in self.questions:
                self.questions[lowered].count += 1
            return cached
        ref = self._lookup(value, lowered, sheet)
        self._cache[lowered] = ref
        return ref

    def _lookup(self, value: str, lowered: str, sheet: str) -> Ref | None:
        answer = self.answers.get(lowered)
        if answer == "create" or (answer is None and self.create and self._match(value) is None):
            return self._new_user(value, lowered)
        user = None
        if answer:
            user = self.by_username.get(answer.lower()) or self.by_email.get(answer.lower())
        user = user or self._match(value)
        if user is None and self.default is not None:
            user = self.default
        if user is None:
            self.questions[lowered] = Question(
                "owners",
                value,
                sheet,
                _(
                    "Owner %(name)s is not a user here. Pick the user who takes their records, or create them as an inactive user."
                )
                % {"name": repr(self._describe(value))},
                [(user.username, user.display_name) for user in self.users if user.is_active]
                + [("create", _("Create as inactive user"))],
                [value],
                1,
            )
            return None
        if self.allowed is not None and user.pk not in self.allowed:
            self.forbidden[lowered] = user.username
            return None
        return user.pk

    def _describe(self, value: str) -> str:
        alias = self.aliases.get(value.strip().lower())
        if alias and (alias.get("full_name") or alias.get("email")):
            return f"{value} ({alias.get('full_name') or alias.get('email')})"
        return value

    def _new_user(self, value: str, lowered: str) -> Ref | None:
        if self.allowed is not None:
            self.forbidden[lowered] = value
            return None
        key = f"user:{lowered}"
        if key in self.new_users:
            return key
        alias = self.aliases.get(lowered, {})
        email = alias.get("email") or (value.strip() if "@" in value else "")
        full_name = alias.get("full_name") or ("" if "@" in value else value.strip())
        first, _space, last = full_name.partition(" ")
        first = alias.get("first_name") or first
        last = alias.get("last_name") or last
        base = (
            alias.get("username")
            or (email.split("@")[0] if email else slugify(full_name) or slugify(value))
            or "imported"
        )
        username = base[:140]
        taken = {user.username.lower() for user in self.users} | {
            user.username.lower() for user in self.new_users.values()
        }
        number = 2
        while username.lower() in taken:
            username = f"{base[:130]}-{number}"
            number += 1
        external_id = value.strip() if alias or not (email or " " in value) else ""
        self.new_users[key] = NewUser(key, username, first[:150], last[:150], email[:254], external_id[:120])
        return key


class NameBook:
    """Lost reasons and lead sources by name. A value Dealflow does not have is never folded into another:
    it is added as a new value unless the user maps it (options ``sources`` / ``lost_reasons``); the preview
    offers each new value as a question whose default is "add it"."""

    def __init__(
        self,
        *,
        sources: dict[str, str] | None = None,
        lost_reasons: dict[str, str] | None = None,
        products: dict[str, str] | None = None,
    ) -> None:
        self.reasons = {normalize_name(reason.name): reason.pk for reason in LostReason.objects.all()}
        self.reason_names = {reason.pk: reason.name for reason in LostReason.objects.all()}
        self.sources: dict[str, int] = {}
        self.source_names: dict[int, str] = {}
        for source in LeadSource.objects.all():
            self.sources[normalize_name(source.key)] = source.pk
            self.sources[normalize_name(source.name)] = source.pk
            self.source_names[source.pk] = source.name
        self.answers_sources = {normalize_name(key): value for key, value in (sources or {}).items()}
        self.answers_reasons = {normalize_name(key): value for key, value in (lost_reasons or {}).items()}
        self.new_reasons: dict[str, str] = {}
        self.new_sources: dict[str, tuple[str, str]] = {}
        self.questions: dict[tuple[str, str], Question] = {}
        self.answers_products = {normalize_name(key): value for key, value in (products or {}).items()}
        self.products: dict[str, int] | None = None  # loaded on the first product column value
        self.product_names: dict[int, str] = {}
        self.new_products: dict[str, str] = {}

    def lost_reason(self, value: str | None) -> Ref:
        key = normalize_name(value or "")
        if not key:
            key = normalize_name("Other")
            value = "Other"
        if key in self.reasons:
            return self.reasons[key]
        answer = self.answers_reasons.get(key)
        if answer and answer != "create" and normalize_name(answer) in self.reasons:
            return self.reasons[normalize_name(answer)]
        new_key = f"reason:{key}"
        if new_key not in self.new_reasons:
            self.new_reasons[new_key] = str(value).strip()[:120]
            self._offer("lost_reasons", str(value).strip(), self.reason_names, answer)
        return new_key

    def source(self, value: str | None) -> Ref | None:
        if not value:
            return None
        key = normalize_name(value)
        if key in self.sources:
            return self.sources[key]
        answer = self.answers_sources.get(key)
        if answer and answer != "create" and normalize_name(answer) in self.sources:
            return self.sources[normalize_name(answer)]
        new_key = f"source:{key}"
        if new_key not in self.new_sources:
            slug = slugify(value)[:40] or "source"
            self.new_sources[new_key] = (slug, str(value).strip()[:80])
            self._offer("sources", str(value).strip(), self.source_names, answer)
        return new_key

    def _offer(self, kind: str, value: str, existing: dict[int, str], answer: str | None) -> None:
        """A new picklist value: a question with "add it" as the stated default, unless answered already."""
        if answer == "create":
            return
        label = _("lead source") if kind == "sources" else _("lost reason")
        self.questions[(kind, value)] = Question(
            kind,
            value,
            "",
            _("%(value)s is not a %(label)s here yet: add it as a new one, or map it to an existing one?")
            % {"value": repr(value), "label": label},
            [("create", _("Add it as new"))] + [(name, name) for name in sorted(set(existing.values()))],
            [value],
            1,
            default="create",
        )

    def product(self, value: str | None) -> Ref | None:
        """A product by code or name; one the catalogue lacks is added (a question whose default says so)."""
        if not value:
            return None
        if self.products is None:
            self.products = {}
            for product in Product.objects.all():
                self.products.setdefault(normalize_name(product.code), product.pk)
                self.products.setdefault(normalize_name(product.name), product.pk)
                self.product_names[product.pk] = product.name
        key = normalize_name(value)
        if key in self.products:
            return self.products[key]
        answer = self.answers_products.get(key)
        if answer and answer != "create" and normalize_name(answer) in self.products:
            return self.products[normalize_name(answer)]
        new_key = f"product:{key}"
        if new_key not in self.new_products:
            self.new_products[new_key] = str(value).strip()[:200]
            if answer != "create":
                self.questions[("products", str(value).strip())] = Question(
                    "products",
                    str(value).strip(),
                    "",
                    _(
                        "%(value)s is not in the product catalogue: add it (without a price), or map it to a product?"
                    )
                    % {"value": repr(str(value).strip())},
                    [("create", _("Add it as new"))]
                    + [(name, name) for name in sorted(set(self.product_names.values()))],
                    [str(value)],
                    1,
                    default="create",
                )
        return new_key

    def default_source(self) -> Ref:
        return self.sources.get("other") or self.source("Other") or "source:other"


def status_word(value: Any) -> str | None:
    """'Closed Won', 'gewonnen', 'won' -> 'won'; None for a word we do not know."""
    return STATUS_WORDS.get(normalize_name(value))


def users_by_ids(ids: set[int]) -> dict[int, User]:
    return {user.pk: user for user in User.objects.filter(Q(pk__in=ids))}
