"""Reads of pipeline reviews; the access gate lives here.

Access: a review belongs to a team (the team reviewed, the rep's team, or the team a pipeline review is
limited to). Admins see every review; a manager sees the reviews of the teams they manage; everybody
else gets a 404, as for a review that does not exist. A pipeline review of everybody is for admins.

One module per topic: access (gates, lists, start options), workspace (rows, agenda, totals), cards (a
deal's card, what-if), report. Callers use ``selectors.<name>``.
"""

from dealflow.reviews.selectors.access import (
    StartOptions,
    review_access_q,
    review_can_start,
    review_get_for_user,
    review_label,
    review_list_for_user,
    review_scope_check,
    review_start_options_for_user,
    scope_reviews,
    series_get_for_user,
    series_list_for_user,
)
from dealflow.reviews.selectors.cards import (
    DealCard,
    DealHistoryEntry,
    WhatIfResult,
    deal_review_history_for_user,
    review_deal_card_for_user,
    review_what_if_for_user,
)
from dealflow.reviews.selectors.report import (
    Adjustment,
    RankedRow,
    Report,
    decision_get_for_user,
    decision_status_label,
    period_check,
    review_report_for_user,
    review_rows_ranked,
)
from dealflow.reviews.selectors.workspace import (
    AGENDA_PAGE,
    AGENDA_SIZE,
    CATEGORY_ORDER,
    AgendaRow,
    QualityView,
    StageTotal,
    Workspace,
    agenda_lists,
    agenda_order,
    review_decisions,
    review_rows,
    review_workspace_for_user,
)

__all__ = [
    "AGENDA_PAGE",
    "AGENDA_SIZE",
    "CATEGORY_ORDER",
    "Adjustment",
    "AgendaRow",
    "DealCard",
    "DealHistoryEntry",
    "QualityView",
    "RankedRow",
    "Report",
    "StageTotal",
    "StartOptions",
    "WhatIfResult",
    "Workspace",
    "agenda_lists",
    "agenda_order",
    "deal_review_history_for_user",
    "decision_get_for_user",
    "decision_status_label",
    "period_check",
    "review_access_q",
    "review_can_start",
    "review_deal_card_for_user",
    "review_decisions",
    "review_get_for_user",
    "review_label",
    "review_list_for_user",
    "review_report_for_user",
    "review_rows",
    "review_rows_ranked",
    "review_scope_check",
    "review_start_options_for_user",
    "review_what_if_for_user",
    "review_workspace_for_user",
    "scope_reviews",
    "series_get_for_user",
    "series_list_for_user",
]
