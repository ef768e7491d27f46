"""Plans: their terms as the pure calculation reads them, who is on which plan when (PlanBook), the admin gate."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.commissions import calculations as calc
from dealflow.commissions.models import (
    CommissionPlan,
    PlanAssignment,
    RuleKind,
)


# ------------------------------------------------------------------------------------------- plans
def plan_terms(*, plan: CommissionPlan) -> calc.PlanTerms:
    """The plan's rules as the pure calculation reads them."""
    rules = []
    for rule in plan.rules.all():
        if rule.kind == RuleKind.PRODUCT:
            value = str(rule.product_id)
        elif rule.kind == RuleKind.PIPELINE:
            value = str(rule.pipeline_id)
        else:
            value = rule.deal_type
        rules.append(
            calc.RateRule(rule.kind, value, rule.rate_percent, label=f"{rule.get_kind_display()} rule")
        )
    spiffs = tuple(
        calc.SpiffTerms(
            spiff.pk,
            spiff.name,
            spiff.starts_on,
            spiff.ends_on,
            spiff.pipeline_id,
            spiff.product_id,
            spiff.deal_type,
            spiff.min_amount_minor,
            spiff.bonus_minor,
            spiff.rate_percent,
        )
        for spiff in plan.spiffs.all()
    )
    return calc.PlanTerms(
        plan_id=plan.pk,
        name=plan.name,
        base_rate_percent=plan.base_rate_percent,
        tier_mode=plan.tier_mode,
        tiers=tuple(calc.Tier(tier.from_percent, tier.rate_percent) for tier in plan.tiers.all()),
        accelerator_multiplier=plan.accelerator_multiplier,
        decelerator_floor_percent=plan.decelerator_floor_percent,
        decelerator_multiplier=plan.decelerator_multiplier,
        cap_minor=plan.cap_minor,
        clawback_days=plan.clawback_days,
        rules=tuple(rules),
        spiffs=spiffs,
    )


def plan_list(*, include_archived: bool = False) -> QuerySet[CommissionPlan]:
    plans = CommissionPlan.objects.prefetch_related("tiers", "rules", "spiffs", "assignments")
    return plans if include_archived else plans.filter(is_archived=False)


def plan_check_admin(*, user: User) -> None:
    """Plans, assignments, contests and settings are for admins (404 for anyone else: they are not listed)."""
    if not user_access_scope(user=user).is_admin:
        raise Http404("No such page.")


def plan_get_for_user(*, plan_id: int, user: User) -> CommissionPlan:
    plan_check_admin(user=user)
    plan = plan_list(include_archived=True).filter(pk=plan_id).first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


@dataclass(frozen=True)
class Assigned:
    """One assignment as the plan book reads it (a row, not a model: a book holds thousands)."""

    pk: int
    plan_id: int
    effective_from: dt.date
    effective_to: dt.date | None


@dataclass
class PlanBook:
    """Every assignment and plan, loaded once, answering "which plan for this person on this day"."""

    terms: dict[int, calc.PlanTerms]
    period_kinds: dict[int, str]
    by_user: dict[int, list[Assigned]]
    by_team: dict[int, list[Assigned]]
    by_role: dict[str, list[Assigned]]
    memberships: dict[int, list[tuple[int, str]]]
    _levels: dict[int, tuple[list[Assigned], ...]] = field(default_factory=dict, repr=False)
    _edges: dict[int, list[dt.date]] = field(default_factory=dict, repr=False)
    _answers: dict[tuple[int, int], int | None] = field(default_factory=dict, repr=False)

    def _levels_of(self, user_id: int) -> tuple[list[Assigned], ...]:
        """The user's own assignments, then their teams', then their roles' (gathered once per person)."""
        if user_id not in self._levels:
            teams = [team_id for team_id, _role in self.memberships.get(user_id, [])]
            roles = sorted({role for _team, role in self.memberships.get(user_id, [])})
            self._levels[user_id] = (
                list(self.by_user.get(user_id, [])),
                [item for team_id in teams for item in self.by_team.get(team_id, [])],
                [item for role in roles for item in self.by_role.get(role, [])],
            )
        return self._levels[user_id]

    def plan_id_on(self, user_id: int, day: dt.date) -> int | None:
        """User assignment first, then the user's teams, then the user's roles; the latest start wins.

        The answer only changes on a day some candidate assignment starts or ends, so it is worked out once
        per person and stretch between two such days (a quarter's 44,000 credits asked 40,000 times)."""
        if user_id not in self._edges:
            levels = self._levels_of(user_id)
            self._edges[user_id] = sorted(
                {item.effective_from for level in levels for item in level}
                | {item.effective_to for level in levels for item in level if item.effective_to is not None}
            )
        key = (user_id, bisect.bisect_right(self._edges[user_id], day))
        if key not in self._answers:
            self._answers[key] = self._plan_id_rule(user_id, day)
        return self._answers[key]

    def _plan_id_rule(self, user_id: int, day: dt.date) -> int | None:
        for assignments in self._levels_of(user_id):
            candidates = [
                item
                for item in assignments
                if item.effective_from <= day and (item.effective_to is None or day < item.effective_to)
            ]
            if candidates:
                return max(candidates, key=lambda item: (item.effective_from, item.pk)).plan_id
        return None

    def terms_on(self, user_id: int, day: dt.date) -> calc.PlanTerms | None:
        plan_id = self.plan_id_on(user_id, day)
        return self.terms.get(plan_id) if plan_id is not None else None


def plan_book(*, extra_plan: CommissionPlan | None = None) -> PlanBook:
    """Load assignments, plans and memberships (four queries plus the plans' prefetches)."""
    rows = list(
        PlanAssignment.objects.values_list(
            "pk", "plan_id", "effective_from", "effective_to", "user_id", "team_id", "role"
        )
    )
    plan_ids = {row[1] for row in rows}
    plans = list(CommissionPlan.objects.filter(pk__in=plan_ids).prefetch_related("tiers", "rules", "spiffs"))
    if extra_plan is not None:
        plans.append(extra_plan)
    book = PlanBook(
        terms={plan.pk: plan_terms(plan=plan) for plan in plans},
        period_kinds={plan.pk: plan.period_kind for plan in plans},
        by_user=defaultdict(list),
        by_team=defaultdict(list),
        by_role=defaultdict(list),
        memberships=defaultdict(list),
    )
    for pk, plan_id, effective_from, effective_to, user_id, team_id, role in rows:
        item = Assigned(pk, plan_id, effective_from, effective_to)
        if user_id is not None:
            book.by_user[user_id].append(item)
        elif team_id is not None:
            book.by_team[team_id].append(item)
        else:
            book.by_role[role].append(item)
    for user_id, team_id, role in Membership.objects.values_list("user_id", "team_id", "role"):
        book.memberships[user_id].append((team_id, role))
    return book


def assignment_list(*, plan: CommissionPlan | None = None) -> QuerySet[PlanAssignment]:
    items = PlanAssignment.objects.select_related("plan", "user", "team")
    return items.filter(plan=plan) if plan is not None else items
