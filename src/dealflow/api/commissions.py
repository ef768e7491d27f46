"""Commissions: plans (admins), splits, statements with their workflow and exports, earnings and what-if,
disputes, leaderboards, contests, badges and preferences. Statements follow the statement gate (own,
managed teams', everybody's for admins); everything else is a 404.
The shapes (schemas) are in commissions_schemas.py.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpResponse, JsonResponse
from ninja import Query, Router, Status

from dealflow.accounts.models import Team, User
from dealflow.api.base import ApiRequest
from dealflow.api.commissions_schemas import (
    AdjustmentIn,
    AssignmentIn,
    AssignmentOut,
    BoardQuery,
    ContestIn,
    ContestOut,
    DisputeIn,
    DisputeOut,
    EarningsOut,
    GamificationPreferencesIn,
    MessageIn,
    PdfPreparingOut,
    PlanIn,
    PlanOut,
    PreferencesOut,
    PreviewOut,
    ReasonIn,
    RecomputeIn,
    ResolveIn,
    SettingsIn,
    SplitIn,
    SplitOut,
    StatementDetailOut,
    StatementLineOut,
    StatementOut,
    WhatIfOut,
    line_out,
)
from dealflow.api.schemas import decimal_text, money_text
from dealflow.commissions import exports, insights, selectors
from dealflow.commissions.models import Badge, DealSplit
from dealflow.commissions.services import disputes, documents, gamification, splits, statements
from dealflow.commissions.services.plans import money_of, plan_assign, plan_create, plan_update
from dealflow.core import clock
from dealflow.core.downloads import file_response
from dealflow.core.errors import ApplicationError
from dealflow.deals.selectors import deal_get_for_user
from dealflow.deals.services.money import base_currency

PDF_RETRY_AFTER = 2  # seconds a client waits before asking again for a PDF being drawn

router = Router(tags=["Commissions"])


# -------------------------------------------------------------------------------------------- plans
@router.get("/plans", response=list[PlanOut])
def plan_list(request: ApiRequest):
    """Every plan (admins)."""
    selectors.plan_check_admin(user=request.user)
    return list(selectors.plan_list())


@router.post("/plans", response={201: PlanOut})
def plan_create_endpoint(request: ApiRequest, payload: PlanIn):
    """Create a plan with its tiers, rate rules and SPIFFs (admins)."""
    selectors.plan_check_admin(user=request.user)
    return Status(201, plan_create(data=payload.as_input(), by=request.user))


@router.get("/plans/{plan_id}", response=PlanOut)
def plan_detail(request: ApiRequest, plan_id: int):
    return selectors.plan_get_for_user(plan_id=plan_id, user=request.user)


@router.put("/plans/{plan_id}", response=PlanOut)
def plan_update_endpoint(request: ApiRequest, plan_id: int, payload: PlanIn):
    """Replace a plan's terms; draft statements follow on their next recompute."""
    plan = selectors.plan_get_for_user(plan_id=plan_id, user=request.user)
    return plan_update(plan=plan, data=payload.as_input(), by=request.user)


@router.post("/plans/{plan_id}/assignments", response={201: AssignmentOut})
def plan_assign_endpoint(request: ApiRequest, plan_id: int, payload: AssignmentIn):
    """Assign the plan to one user, team or role from a day on."""
    plan = selectors.plan_get_for_user(plan_id=plan_id, user=request.user)
    user = User.objects.filter(pk=payload.user_id).first() if payload.user_id else None
    team = Team.objects.filter(pk=payload.team_id).first() if payload.team_id else None
    if payload.user_id and user is None:
        raise ApplicationError("No such user.", field="user_id")
    if payload.team_id and team is None:
        raise ApplicationError("No such team.", field="team_id")
    assignment = plan_assign(
        plan=plan,
        user=user,
        team=team,
        role=payload.role,
        effective_from=payload.effective_from,
        effective_to=payload.effective_to,
        by=request.user,
    )
    return Status(201, assignment)


@router.get("/plans/{plan_id}/preview", response=list[PreviewOut])
def plan_preview(request: ApiRequest, plan_id: int, period: str | None = None):
    """What last period's statements would have been under this plan (or the period given)."""
    plan = selectors.plan_get_for_user(plan_id=plan_id, user=request.user)
    chosen = selectors.period_parse(period, default_kind=plan.period_kind, today=clock.today())
    if not period:
        chosen = chosen.previous()
    currency = base_currency()
    return [
        {
            "user_id": row.user_id,
            "name": row.name,
            "credited": money_text(row.credit_minor, currency),
            "attainment_percent": decimal_text(row.attainment_percent),
            "actual_commission": money_text(row.actual_minor, currency),
            "preview_commission": money_text(row.preview_minor, currency),
        }
        for row in insights.plan_preview(plan=plan, period=chosen)
    ]


# ------------------------------------------------------------------------------------------- splits
@router.get("/deals/{deal_id}/splits", response=list[SplitOut])
def split_history(request: ApiRequest, deal_id: int):
    """The deal's splits over time (current ones have no valid_to)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    return list(DealSplit.objects.filter(deal=deal).order_by("valid_from", "id"))


@router.put("/deals/{deal_id}/splits", response=list[SplitOut])
def split_set(request: ApiRequest, deal_id: int, payload: SplitIn):
    """Replace the deal's split from now on (shares add up to 100; an empty list credits the owner)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    people = []
    for index, share in enumerate(payload.shares):
        person = User.objects.filter(pk=share.user_id, is_active=True).first()
        if person is None:
            raise ApplicationError("No such active user.", field=f"shares[{index}].user_id")
        people.append((person, share.share_percent))
    return splits.deal_split_set(deal=deal, shares=people, by=request.user, note=payload.note)


# --------------------------------------------------------------------------------------- statements
@router.get("/statements", response=list[StatementOut])
def statement_list(
    request, period: str | None = None, person_id: int | None = None, status: str | None = None
):
    """Statements you may see (own; managed teams'; all for admins)."""
    return list(
        selectors.statement_list_for_user(
            user=request.user, period_key=period, person_id=person_id, status=status
        )[:2000]
    )


@router.post("/statements/recompute", response=list[StatementOut])
def statement_recompute(request: ApiRequest, payload: RecomputeIn):
    """Recompute the drafts of a period for the people you may see (approved and paid ones stay)."""
    period = selectors.period_parse(payload.period, today=clock.today())
    allowed = set(selectors.people_for_statements(user=request.user).values_list("pk", flat=True))
    wanted = allowed if payload.person_ids is None else allowed & set(payload.person_ids)
    if payload.person_ids is not None and wanted != set(payload.person_ids):
        raise ApplicationError("You may not compute statements of some of those people.", field="person_ids")
    return statements.statements_recompute(period=period, user_ids=wanted, by=request.user)


@router.get("/statements/{statement_id}", response=StatementDetailOut)
def statement_detail(request: ApiRequest, statement_id: int):
    return selectors.statement_get_for_user(statement_id=statement_id, user=request.user)


@router.post("/statements/{statement_id}/approve", response=StatementDetailOut)
def statement_approve(request: ApiRequest, statement_id: int):
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    return statements.statement_approve(statement=statement, by=request.user)


@router.post("/statements/{statement_id}/return", response=StatementDetailOut)
def statement_return(request: ApiRequest, statement_id: int, payload: ReasonIn):
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    return statements.statement_return_to_draft(statement=statement, by=request.user, reason=payload.reason)


@router.post("/statements/{statement_id}/pay", response=StatementDetailOut)
def statement_pay(request: ApiRequest, statement_id: int):
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    return statements.statement_mark_paid(statement=statement, by=request.user)


@router.post("/statements/{statement_id}/adjustments", response={201: StatementLineOut})
def statement_adjust(request: ApiRequest, statement_id: int, payload: AdjustmentIn):
    """A manager's signed adjustment with a reason, on a draft."""
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    line = statements.statement_adjust(
        statement=statement,
        amount_minor=signed_minor(payload.amount, "amount"),
        reason=payload.reason,
        by=request.user,
    )
    return Status(201, line_out(line, statement.currency))


def signed_minor(text: str, field: str) -> int:
    value = (text or "").strip()
    negative = value.startswith("-")
    minor = money_of(value.lstrip("-+"), field=field)
    return -minor if negative else minor


@router.get("/statements/{statement_id}/pdf", response={200: bytes, 202: PdfPreparingOut})
def statement_pdf(request: ApiRequest, statement_id: int):
    """The statement as a PDF in the person's language (ETag: send it back in If-None-Match for a 304).
    202 while the worker draws it: ask again after Retry-After seconds."""
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    document = documents.statement_pdf_get(statement=statement)
    if document.pdf is None:
        waiting = JsonResponse(
            {
                "status": "preparing",
                "retry_after": PDF_RETRY_AFTER,
                "waited_seconds": document.waited_seconds,
            },
            status=202,
        )
        waiting["Retry-After"] = str(PDF_RETRY_AFTER)
        return waiting
    return file_response(request, document.download())


@router.get("/payroll")
def payroll(
    request: ApiRequest,
    period: str,
    format: Literal["csv", "xlsx", "json"] = "csv",
    status: str | None = None,
):
    """The period's statements you may see as a payroll file (CSV, XLSX or JSON rows)."""
    chosen = selectors.period_parse(period, today=clock.today())
    rows = selectors.statement_list_for_user(user=request.user, period_key=chosen.key, status=status)
    from dealflow.accounts.services import audit_record

    audit_record(
        actor=request.user,
        action="commissions.payroll_exported",
        target=chosen.key,
        detail={"format": format, "count": rows.count()},
    )
    if format == "json":
        return exports.payroll_rows(statements=rows)
    name = f"payroll-{chosen.key}.{format}"
    if format == "xlsx":
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response = HttpResponse(exports.payroll_xlsx(statements=rows), content_type=content_type)
    else:
        response = HttpResponse(exports.payroll_csv(statements=rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ------------------------------------------------------------------------------------ rep's own view
@router.get("/earnings", response=EarningsOut)
def earnings(request: ApiRequest, period: str | None = None):
    """Your commission this period so far, the next tier and what it takes."""
    chosen = selectors.period_parse(period, today=clock.today()) if period else None
    data = insights.earnings_for_user(user=request.user, today=clock.today(), period=chosen)
    return earnings_out(data)


def earnings_out(data: insights.Earnings) -> dict[str, Any]:
    currency = base_currency()
    upcoming = data.next_tier
    return {
        "period": data.period.key,
        "currency": currency,
        "plan": data.terms.name if data.terms else None,
        "quota": money_text(data.result.quota_minor, currency),
        "credited": money_text(data.result.credit_minor, currency),
        "attainment_percent": decimal_text(data.result.attainment_percent),
        "commission": money_text(data.result.commission_minor, currency),
        "adjustments": money_text(data.adjustment_minor, currency),
        "total": money_text(data.total_minor, currency),
        "next_tier": None
        if upcoming is None
        else {
            "tier": upcoming.tier_number,
            "from_percent": decimal_text(upcoming.from_percent),
            "rate_percent": decimal_text(upcoming.rate_percent),
            "credit_needed": money_text(upcoming.credit_needed_minor, currency),
        },
        "lines": [
            {
                "kind": line.kind,
                "deal_id": line.deal_id,
                "title": line.title,
                "on": line.on,
                "credited": money_text(line.credit_minor, currency),
                "rule": line.rule,
                "tier": line.tier,
                "commission": money_text(line.commission_minor, currency),
            }
            for line in data.result.lines
        ],
    }


@router.get("/deals/{deal_id}/what-if", response=WhatIfOut)
def what_if(request: ApiRequest, deal_id: int):
    """What winning this open deal today would add to your commission this period."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    adds = insights.what_if_for_deals(user=request.user, deals=[deal], today=clock.today()).get(deal.pk)
    currency = base_currency()
    return {"deal_id": deal.pk, "currency": currency, "adds": money_text(adds, currency)}


# ----------------------------------------------------------------------------------------- disputes
@router.get("/disputes", response=list[DisputeOut])
def dispute_list(request: ApiRequest, status: str | None = None):
    return list(
        selectors.dispute_list_for_user(user=request.user, status=status).prefetch_related("messages")
    )


@router.post("/statements/{statement_id}/disputes", response={201: DisputeOut})
def dispute_open(request: ApiRequest, statement_id: int, payload: DisputeIn):
    """Question a line of your statement (or the whole statement)."""
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    line = statement.lines.filter(pk=payload.line_id).first() if payload.line_id else None
    if payload.line_id and line is None:
        raise ApplicationError("No such line on this statement.", field="line_id")
    return Status(
        201, disputes.dispute_open(statement=statement, line=line, body=payload.body, by=request.user)
    )


@router.get("/disputes/{dispute_id}", response=DisputeOut)
def dispute_detail(request: ApiRequest, dispute_id: int):
    return selectors.dispute_get_for_user(dispute_id=dispute_id, user=request.user)


@router.post("/disputes/{dispute_id}/messages", response={201: DisputeOut})
def dispute_reply(request: ApiRequest, dispute_id: int, payload: MessageIn):
    dispute = selectors.dispute_get_for_user(dispute_id=dispute_id, user=request.user)
    disputes.dispute_reply(dispute=dispute, body=payload.body, by=request.user)
    return Status(201, dispute)


@router.post("/disputes/{dispute_id}/resolve", response=DisputeOut)
def dispute_resolve(request: ApiRequest, dispute_id: int, payload: ResolveIn):
    """Resolve into an adjustment (signed amount) or a note."""
    dispute = selectors.dispute_get_for_user(dispute_id=dispute_id, user=request.user)
    amount = signed_minor(payload.adjustment, "adjustment") if payload.adjustment else None
    return disputes.dispute_resolve(
        dispute=dispute, by=request.user, note=payload.note, adjustment_minor=amount
    )


# ------------------------------------------------------------------------------------- gamification
@router.get("/leaderboard")
def leaderboard(request: ApiRequest, query: Query[BoardQuery]):
    """Ranked people by a measure for a period (default: this quarter), as visibility allows."""
    chosen = selectors.period_parse(query.period, today=clock.today())
    rows = insights.leaderboard_for_user(
        user=request.user, measure=query.measure, period=chosen, team_id=query.team_id
    )
    currency = base_currency()

    def shown(value: Any) -> Any:
        if query.measure == "won_revenue":
            return money_text(value, currency)
        return decimal_text(value) if value is not None and not isinstance(value, int) else value

    return {
        "measure": query.measure,
        "period": chosen.key,
        "rows": [
            {
                "rank": row.rank,
                "user_id": row.user_id,
                "name": row.name,
                "value": shown(row.value),
                "is_me": row.is_me,
            }
            for row in rows
        ],
    }


@router.get("/contests", response=list[ContestOut])
def contest_list(request: ApiRequest):
    return insights.contest_list_for_user(user=request.user)


@router.post("/contests", response={201: ContestOut})
def contest_create(request: ApiRequest, payload: ContestIn):
    team = Team.objects.filter(pk=payload.team_id).first() if payload.team_id else None
    if payload.team_id and team is None:
        raise ApplicationError("No such team.", field="team_id")
    contest = gamification.contest_create(
        name=payload.name,
        measure=payload.measure,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        target=payload.target,
        prize=payload.prize,
        team=team,
        is_for_teams=payload.is_for_teams,
        by=request.user,
    )
    return Status(201, contest)


@router.get("/contests/{contest_id}")
def contest_detail(request: ApiRequest, contest_id: int):
    """The contest with each participant's progress, share of the target and rank."""
    contest = insights.contest_get_for_user(contest_id=contest_id, user=request.user)
    rows = insights.contest_progress(contest=contest)
    return {
        "id": contest.pk,
        "name": contest.name,
        "measure": contest.measure,
        "target": contest.target,
        "prize": contest.prize,
        "is_finished": contest.ends_on < clock.today(),
        "rows": [
            {
                "rank": row.rank,
                "key": row.key,
                "name": row.name,
                "value": row.value if isinstance(row.value, int) or row.value is None else str(row.value),
                "share_percent": decimal_text(row.share_percent),
                "has_reached": row.has_reached,
            }
            for row in rows
        ],
    }


@router.get("/badges")
def badge_list(request: ApiRequest):
    """Your badges."""
    return [
        {
            "kind": badge.kind,
            "label": str(badge.get_kind_display()),
            "key": badge.key,
            "awarded_on": badge.awarded_on,
        }
        for badge in Badge.objects.filter(user=request.user)
    ]


@router.get("/preferences", response=PreferencesOut)
def preferences(request: ApiRequest):
    return selectors.preference_for(user=request.user)


@router.put("/preferences", response=PreferencesOut)
def preferences_set(request: ApiRequest, payload: GamificationPreferencesIn):
    return gamification.preference_set(user=request.user, **payload.dict())


@router.put("/settings")
def settings_set(request: ApiRequest, payload: SettingsIn):
    """Company-wide leaderboard visibility (admins)."""
    selectors.plan_check_admin(user=request.user)
    gamification.settings_set(leaderboard_visibility=payload.leaderboard_visibility, by=request.user)
    return {"leaderboard_visibility": payload.leaderboard_visibility}
