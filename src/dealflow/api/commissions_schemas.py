"""The shapes of /api/v1/commissions: what the endpoints in api/commissions.py take and return."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema

from dealflow.api.schemas import decimal_text, money_text
from dealflow.commissions import selectors
from dealflow.commissions.models import CommissionPlan, DealSplit, Dispute, Statement
from dealflow.commissions.services.plans import PlanInput
from dealflow.deals.services.money import base_currency


# ------------------------------------------------------------------------------------------ schemas
class TierIn(Schema):
    from_percent: str
    rate_percent: str


class PlanIn(Schema):
    name: str
    description: str = ""
    period_kind: Literal["month", "quarter"] = "quarter"
    base_rate_percent: str = "0"
    tier_mode: Literal["none", "marginal", "retroactive"] = "none"
    tiers: list[TierIn] = []
    accelerator_multiplier: str = "1"
    decelerator_floor_percent: str | None = None
    decelerator_multiplier: str = "1"
    cap: str | None = None
    clawback_days: int = 90
    rules: list[dict[str, Any]] = []
    spiffs: list[dict[str, Any]] = []

    def as_input(self) -> PlanInput:
        return PlanInput(
            name=self.name,
            description=self.description,
            period_kind=self.period_kind,
            base_rate_percent=self.base_rate_percent,
            tier_mode=self.tier_mode,
            tiers=[(tier.from_percent, tier.rate_percent) for tier in self.tiers],
            accelerator_multiplier=self.accelerator_multiplier,
            decelerator_floor_percent=self.decelerator_floor_percent,
            decelerator_multiplier=self.decelerator_multiplier,
            cap=self.cap,
            clawback_days=self.clawback_days,
            rules=self.rules,
            spiffs=self.spiffs,
        )


class PlanOut(Schema):
    id: int
    name: str
    description: str
    period_kind: str
    base_rate_percent: str
    tier_mode: str
    tiers: list[dict[str, str]]
    accelerator_multiplier: str
    decelerator_floor_percent: str | None
    decelerator_multiplier: str
    cap: str | None
    clawback_days: int
    rules: list[dict[str, Any]]
    spiffs: list[dict[str, Any]]

    @staticmethod
    def resolve_base_rate_percent(plan: CommissionPlan) -> str | None:
        return decimal_text(plan.base_rate_percent)

    @staticmethod
    def resolve_tiers(plan: CommissionPlan) -> list[dict[str, str | None]]:
        return [
            {"from_percent": decimal_text(tier.from_percent), "rate_percent": decimal_text(tier.rate_percent)}
            for tier in plan.tiers.all()
        ]

    @staticmethod
    def resolve_accelerator_multiplier(plan: CommissionPlan) -> str | None:
        return decimal_text(plan.accelerator_multiplier)

    @staticmethod
    def resolve_decelerator_floor_percent(plan: CommissionPlan) -> str | None:
        return decimal_text(plan.decelerator_floor_percent)

    @staticmethod
    def resolve_decelerator_multiplier(plan: CommissionPlan) -> str | None:
        return decimal_text(plan.decelerator_multiplier)

    @staticmethod
    def resolve_cap(plan: CommissionPlan) -> str | None:
        return money_text(plan.cap_minor, base_currency())

    @staticmethod
    def resolve_rules(plan: CommissionPlan) -> list[dict[str, Any]]:
        return [
            {
                "kind": rule.kind,
                "product_id": rule.product_id,
                "pipeline_id": rule.pipeline_id,
                "deal_type": rule.deal_type,
                "rate_percent": decimal_text(rule.rate_percent),
            }
            for rule in plan.rules.all()
        ]

    @staticmethod
    def resolve_spiffs(plan: CommissionPlan) -> list[dict[str, Any]]:
        currency = base_currency()
        return [
            {
                "name": spiff.name,
                "starts_on": spiff.starts_on,
                "ends_on": spiff.ends_on,
                "pipeline_id": spiff.pipeline_id,
                "product_id": spiff.product_id,
                "deal_type": spiff.deal_type,
                "min_amount": money_text(spiff.min_amount_minor, currency),
                "bonus": money_text(spiff.bonus_minor, currency),
                "rate_percent": decimal_text(spiff.rate_percent),
            }
            for spiff in plan.spiffs.all()
        ]


class AssignmentIn(Schema):
    user_id: int | None = None
    team_id: int | None = None
    role: str = ""
    effective_from: dt.date
    effective_to: dt.date | None = None


class AssignmentOut(Schema):
    id: int
    plan_id: int
    user_id: int | None
    team_id: int | None
    role: str
    effective_from: dt.date
    effective_to: dt.date | None


class PreviewOut(Schema):
    user_id: int
    name: str
    credited: str | None
    attainment_percent: str | None
    actual_commission: str | None
    preview_commission: str | None


class SplitShareIn(Schema):
    user_id: int
    share_percent: str


class SplitIn(Schema):
    shares: list[SplitShareIn]
    note: str = ""


class SplitOut(Schema):
    user_id: int
    share_percent: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    note: str

    @staticmethod
    def resolve_share_percent(split: DealSplit) -> str | None:
        return decimal_text(split.share_percent)


class StatementLineOut(Schema):
    id: int
    kind: str
    deal_id: int | None
    deal_title: str
    occurred_on: dt.date | None
    credited: str
    share_percent: str | None
    rule: str
    tier: str
    rate_percent: str | None
    commission: str
    reason: str


class StatementOut(Schema):
    id: int
    user_id: int
    person: str
    period_key: str
    status: str
    currency: str
    quota: str | None
    credited: str | None
    attainment_percent: str | None
    commission: str | None
    adjustments: str | None
    total: str | None
    approved_at: dt.datetime | None
    paid_at: dt.datetime | None

    @staticmethod
    def resolve_person(statement: Statement) -> str:
        return statement.user.display_name

    @staticmethod
    def resolve_quota(statement: Statement) -> str | None:
        return money_text(statement.quota_minor, statement.currency)

    @staticmethod
    def resolve_credited(statement: Statement) -> str | None:
        return money_text(statement.credit_minor, statement.currency)

    @staticmethod
    def resolve_attainment_percent(statement: Statement) -> str | None:
        return decimal_text(statement.attainment_percent)

    @staticmethod
    def resolve_commission(statement: Statement) -> str | None:
        return money_text(statement.commission_minor, statement.currency)

    @staticmethod
    def resolve_adjustments(statement: Statement) -> str | None:
        return money_text(statement.adjustment_minor, statement.currency)

    @staticmethod
    def resolve_total(statement: Statement) -> str | None:
        return money_text(statement.total_minor, statement.currency)


class StatementDetailOut(StatementOut):
    lines: list[StatementLineOut]

    @staticmethod
    def resolve_lines(statement: Statement) -> list[dict[str, Any]]:
        return [line_out(line, statement.currency) for line in selectors.statement_lines(statement=statement)]


def line_out(line: Any, currency: str) -> dict[str, Any]:
    return {
        "id": line.pk,
        "kind": line.kind,
        "deal_id": line.deal_id,
        "deal_title": line.deal_title,
        "occurred_on": line.occurred_on,
        "credited": money_text(line.credit_minor, currency),
        "share_percent": decimal_text(line.share_percent),
        "rule": line.rule,
        "tier": line.tier,
        "rate_percent": decimal_text(line.rate_percent),
        "commission": money_text(line.commission_minor, currency),
        "reason": line.reason,
    }


class RecomputeIn(Schema):
    period: str
    person_ids: list[int] | None = None


class AdjustmentIn(Schema):
    amount: str  # signed, in the statement's currency
    reason: str


class ReasonIn(Schema):
    reason: str


class EarningsOut(Schema):
    period: str
    currency: str
    plan: str | None
    quota: str | None
    credited: str | None
    attainment_percent: str | None
    commission: str | None
    adjustments: str | None
    total: str | None
    next_tier: dict[str, Any] | None
    lines: list[dict[str, Any]]


class WhatIfOut(Schema):
    deal_id: int
    currency: str
    adds: str | None


class DisputeIn(Schema):
    line_id: int | None = None
    body: str


class MessageIn(Schema):
    body: str


class ResolveIn(Schema):
    note: str
    adjustment: str | None = None  # signed amount; empty resolves with a note


class DisputeOut(Schema):
    id: int
    statement_id: int
    line_id: int | None
    line_text: str
    status: str
    opened_by_id: int
    messages: list[dict[str, Any]]

    @staticmethod
    def resolve_messages(dispute: Dispute) -> list[dict[str, Any]]:
        return [
            {"author_id": message.author_id, "body": message.body, "created_at": message.created_at}
            for message in dispute.messages.all()
        ]


class BoardQuery(Schema):
    measure: Literal["won_revenue", "attainment", "activities", "data_quality"] = "won_revenue"
    period: str | None = None
    team_id: int | None = None


class ContestIn(Schema):
    name: str
    measure: Literal["won_revenue", "attainment", "activities", "data_quality"]
    starts_on: dt.date
    ends_on: dt.date
    target: str
    prize: str = ""
    team_id: int | None = None
    is_for_teams: bool = False


class ContestOut(Schema):
    id: int
    name: str
    measure: str
    starts_on: dt.date
    ends_on: dt.date
    target: int
    prize: str
    team_id: int | None
    is_for_teams: bool


class GamificationPreferencesIn(Schema):
    is_leaderboard_opt_out: bool | None = None
    is_celebration_on: bool | None = None
    is_board_what_if_on: bool | None = None


class PreferencesOut(Schema):
    is_leaderboard_opt_out: bool
    is_celebration_on: bool
    is_board_what_if_on: bool


class SettingsIn(Schema):
    leaderboard_visibility: Literal["team", "company", "off"]


class PdfPreparingOut(Schema):
    """A statement PDF the worker is drawing: ask again after ``retry_after`` seconds (the Retry-After header)."""

    status: Literal["preparing"]
    retry_after: int
    waited_seconds: int
