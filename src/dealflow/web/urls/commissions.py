"""Commissions: earnings, statements and their workflow, payroll export, disputes, plans, leaderboards."""

from django.urls import path

from dealflow.web.views import commission_contests, commission_plans, commissions

urlpatterns = [
    path("commissions/", commissions.earnings, name="commission_earnings"),
    path("commissions/statements/", commissions.statement_list, name="commission_statements"),
    path("commissions/statements/recompute/", commissions.statement_recompute, name="commission_recompute"),
    path(
        "commissions/statements/<int:statement_id>/",
        commissions.statement_detail,
        name="commission_statement",
    ),
    path(
        "commissions/statements/<int:statement_id>/<str:action>/",
        commissions.statement_action,
        name="commission_statement_action",
    ),
    path(
        "commissions/statements/<int:statement_id>.pdf",
        commissions.statement_pdf,
        name="commission_statement_pdf",
    ),
    path(
        "commissions/statements/<int:statement_id>/disputes/new/",
        commissions.dispute_open,
        name="commission_dispute_open",
    ),
    path(
        "commissions/disputes/<int:dispute_id>/<str:action>/",
        commissions.dispute_action,
        name="commission_dispute_action",
    ),
    path("commissions/payroll.<str:export_format>", commissions.payroll_export, name="commission_payroll"),
    path("commissions/plans/", commission_plans.plan_list, name="commission_plans"),
    path("commissions/plans/<int:plan_id>/", commission_plans.plan_detail, name="commission_plan"),
    path("commissions/leaderboard/", commission_contests.leaderboard, name="commission_leaderboard"),
    path("commissions/contests/new/", commission_contests.contest_create, name="commission_contest_create"),
    path(
        "commissions/contests/<int:contest_id>/",
        commission_contests.contest_detail,
        name="commission_contest",
    ),
    path("commissions/deals/<int:deal_id>/what-if/", commissions.deal_what_if, name="commission_what_if"),
    path("commissions/deals/<int:deal_id>/split/", commissions.deal_split, name="commission_deal_split"),
    path("commissions/celebration/", commissions.celebration, name="commission_celebration"),
    path("commissions/board-what-if/", commissions.board_what_if, name="commission_board_what_if"),
]
