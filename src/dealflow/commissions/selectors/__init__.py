"""Reads for commissions: plan terms, who is credited for a won deal (from the deal history), the inputs
of a period's statements, statements and disputes behind the access gates, earnings and what-if.

Access: a statement is visible to its person, to managers of a team the person is in and to admins
(``owner_visibility_q`` on the statement's user); anything else is a 404. Plans are for admins.

The package, one module per topic: common (local days, chunks), plans (terms, PlanBook), history (credit
inputs from the deal history, RateBook), periods (a period's inputs and results), statements (the gated
reads of statements, disputes and deals). Callers use ``selectors.<name>``; this module lists them.
"""

from dealflow.commissions.selectors.common import (
    CHUNK,
    collection_paused,
    day_start,
    local_day,
)
from dealflow.commissions.selectors.history import (
    History,
    RateBook,
    SplitRow,
    WonEvent,
    deal_history,
)
from dealflow.commissions.selectors.periods import (
    PeriodInputs,
    PersonInputs,
    period_inputs,
    statement_results,
)
from dealflow.commissions.selectors.plans import (
    Assigned,
    PlanBook,
    assignment_list,
    plan_book,
    plan_check_admin,
    plan_get_for_user,
    plan_list,
    plan_terms,
)
from dealflow.commissions.selectors.statements import (
    deal_split_history,
    deal_visible,
    dispute_get_for_user,
    dispute_list_for_user,
    open_deals_of,
    people_for_statements,
    period_parse,
    preference_for,
    settings_get,
    statement_can_manage,
    statement_get_for_user,
    statement_lines,
    statement_lines_queryset,
    statement_list_for_user,
    users_with_activity_q,
)

__all__ = [
    "CHUNK",
    "Assigned",
    "History",
    "PeriodInputs",
    "PersonInputs",
    "PlanBook",
    "RateBook",
    "SplitRow",
    "WonEvent",
    "assignment_list",
    "collection_paused",
    "day_start",
    "deal_history",
    "deal_split_history",
    "deal_visible",
    "dispute_get_for_user",
    "dispute_list_for_user",
    "local_day",
    "open_deals_of",
    "people_for_statements",
    "period_inputs",
    "period_parse",
    "plan_book",
    "plan_check_admin",
    "plan_get_for_user",
    "plan_list",
    "plan_terms",
    "preference_for",
    "settings_get",
    "statement_can_manage",
    "statement_get_for_user",
    "statement_lines",
    "statement_lines_queryset",
    "statement_list_for_user",
    "statement_results",
    "users_with_activity_q",
]
