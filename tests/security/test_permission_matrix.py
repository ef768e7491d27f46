"""Every API operation and every page, as each persona, against records owned by ``rep``.

The API side walks ``api.get_openapi_schema()``; the web side walks the URL resolver. Each operation or
route needs an entry in ``API_RULES`` / ``WEB_RULES`` saying how to fill its path (which of rep's records
each parameter names) and, when it differs from the default, which answers each persona may get. A new
endpoint without a rule fails ``test_every_operation_has_a_rule`` / ``test_every_route_has_a_rule``.

Default expectations (record-scoped = the path names one of rep's records):
  anonymous -> 401 (API) / a redirect to the sign-in page (web);
  outsider (a rep of another team) -> 404 on record-scoped paths; lists never contain rep's record;
  rep, manager, admin -> neither 404 nor 401/5xx;
  analyst -> reads allowed (no 401/403/404/5xx), writes 403.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dealflow.web.tests.test_access import ROUTES

PERSONAS = ("anonymous", "outsider", "rep", "manager", "analyst", "admin")
SERVER_ERRORS = range(500, 600)
READ = {"GET", "HEAD"}
MARK = "Matrixzq7"  # in the titles of rep's records, so a list that leaks them is easy to spot


@dataclass(frozen=True)
class Rule:
    """How to build an operation's path, and what each persona may get when the default does not hold."""

    params: dict[str, str] = field(default_factory=dict)  # path parameter -> attribute of World
    record: bool = True  # the path names a record that belongs to rep (False: reference data, own data)
    body: dict | None = None  # JSON (API) or form data (web) for writes
    expect: dict[str, frozenset[int]] = field(default_factory=dict)  # persona -> allowed status codes
    lists: str | None = None  # a list that must show rep's record of this kind to rep, never to outsider


def allow(*codes: int) -> frozenset[int]:
    return frozenset(codes)


OK = allow(200, 201, 202, 204, 302)
DENIED = allow(403, 404)
CLIENT_ERROR = allow(400, 403, 404, 409, 422)
# Writes that check their payload or state first: a refusal that says nothing about the record.
REFUSED_OR_DONE = OK | CLIENT_ERROR
MANAGERS_ONLY = {"rep": DENIED | allow(400), "analyst": DENIED | allow(400), "outsider": DENIED | allow(400)}
ADMIN_ONLY = {persona: allow(403, 404, 400) for persona in ("rep", "manager", "analyst", "outsider")}

DEAL = {"deal_id": "deal"}
LEAD = {"lead_id": "lead"}
ACTIVITY = {"activity_id": "activity"}
TRASHED = {"kind": "trash_kind", "record_id": "deal"}
RUN = {"run_id": "run"}
SURVEY = {"survey_id": "survey"}
MEETING = {"meeting_id": "meeting"}
SERIES = {"series_id": "series"}
JOB = {"job_id": "import_job"}
QUOTE = {"quote_id": "quote"}
# One-on-ones and survey runs belong to their participants/teams: an analyst or admin from elsewhere reads
# what the people app lets them (its own rules, tested in people/tests); the matrix pins no leak to outsiders.
PRIVATE = {"analyst": DENIED | OK, "admin": DENIED | OK | CLIENT_ERROR}
# Survey results are the managers' (anonymous aggregates); only respondents answer a run.
RESULTS = PRIVATE | {"rep": DENIED}
RESPOND = PRIVATE | {"manager": DENIED}
# Pipeline reviews are the managers' meetings (reviews.selectors.review_access_q): admins and the reviewed
# team's managers open them; reps and analysts get the same 404 as anybody outside.
REVIEW = {"review_id": "review"}
REVIEWS = {"rep": allow(404), "analyst": allow(404)}
OWN_JOB = {"rep": DENIED, "analyst": DENIED, "outsider": DENIED}


STATEMENT = {"statement_id": "statement"}
COMMISSION_PLAN = {"plan_id": "commission_plan"}
DISPUTE = {"dispute_id": "commission_dispute"}
NOT_OWN = {"rep": DENIED | allow(400, 409)}  # rep may not approve, adjust or pay their own statement


def commission_api_rules() -> dict[str, Rule]:
    base = "/api/v1/commissions"
    return {
        f"GET {base}/plans": Rule(record=False, expect=ADMIN_ONLY),
        f"POST {base}/plans": Rule(record=False, body={"name": "Matrix plan 2"}, expect=ADMIN_ONLY),
        f"GET {base}/plans/{{plan_id}}": Rule(COMMISSION_PLAN, record=False, expect=ADMIN_ONLY),
        f"PUT {base}/plans/{{plan_id}}": Rule(
            COMMISSION_PLAN, record=False, body={"name": "Matrix plan"}, expect=ADMIN_ONLY
        ),
        f"POST {base}/plans/{{plan_id}}/assignments": Rule(
            COMMISSION_PLAN,
            record=False,
            body={"role": "analyst", "effective_from": "2026-01-01"},
            expect=ADMIN_ONLY,
        ),
        f"GET {base}/plans/{{plan_id}}/preview": Rule(COMMISSION_PLAN, record=False, expect=ADMIN_ONLY),
        f"GET {base}/deals/{{deal_id}}/splits": Rule(DEAL),
        f"PUT {base}/deals/{{deal_id}}/splits": Rule(DEAL, body={"shares": []}),
        f"GET {base}/deals/{{deal_id}}/what-if": Rule(DEAL),
        f"GET {base}/statements": Rule(record=False),
        f"POST {base}/statements/recompute": Rule(record=False, body={"period": "2026-Q4"}),
        f"GET {base}/statements/{{statement_id}}": Rule(STATEMENT),
        f"GET {base}/statements/{{statement_id}}/pdf": Rule(STATEMENT),
        f"POST {base}/statements/{{statement_id}}/approve": Rule(STATEMENT, body={}, expect=NOT_OWN),
        f"POST {base}/statements/{{statement_id}}/return": Rule(
            STATEMENT, body={"reason": "x"}, expect=NOT_OWN
        ),
        f"POST {base}/statements/{{statement_id}}/pay": Rule(STATEMENT, body={}, expect=NOT_OWN),
        f"POST {base}/statements/{{statement_id}}/adjustments": Rule(
            STATEMENT, body={"amount": "1", "reason": "x"}, expect=NOT_OWN
        ),
        f"POST {base}/statements/{{statement_id}}/disputes": Rule(STATEMENT, body={"body": "Why?"}),
        f"GET {base}/payroll": Rule(record=False),
        f"GET {base}/earnings": Rule(record=False),
        f"GET {base}/disputes": Rule(record=False),
        f"GET {base}/disputes/{{dispute_id}}": Rule(DISPUTE),
        f"POST {base}/disputes/{{dispute_id}}/messages": Rule(DISPUTE, body={"body": "More?"}),
        f"POST {base}/disputes/{{dispute_id}}/resolve": Rule(DISPUTE, body={"note": "Fine"}, expect=NOT_OWN),
        f"GET {base}/leaderboard": Rule(record=False),
        f"GET {base}/contests": Rule(record=False),
        f"POST {base}/contests": Rule(
            record=False,
            body={
                "name": "x",
                "measure": "activities",
                "starts_on": "2026-01-01",
                "ends_on": "2026-01-31",
                "target": "5",
            },
            expect=ADMIN_ONLY,
        ),
        f"GET {base}/contests/{{contest_id}}": Rule({"contest_id": "contest"}, record=False),
        f"GET {base}/badges": Rule(record=False),
        f"GET {base}/preferences": Rule(record=False),
        # Own preferences: an analyst keeps theirs too.
        f"PUT {base}/preferences": Rule(
            record=False, body={"is_celebration_on": False}, expect={"analyst": OK}
        ),
        f"PUT {base}/settings": Rule(
            record=False, body={"leaderboard_visibility": "team"}, expect=ADMIN_ONLY
        ),
    }


def api_rule_table() -> dict[str, Rule]:
    return {
        "GET /api/v1/deals": Rule(record=False, lists="deal"),
        "POST /api/v1/deals": Rule(record=False, body={"title": "x"}),
        "GET /api/v1/deals/{deal_id}": Rule(DEAL),
        "PATCH /api/v1/deals/{deal_id}": Rule(DEAL, body={"version": 1, "title": f"{MARK} deal"}),
        "POST /api/v1/deals/{deal_id}/move": Rule(DEAL, body={"stage_id": "@stage"}),
        "POST /api/v1/deals/{deal_id}/win": Rule(DEAL, body={}),
        "POST /api/v1/deals/{deal_id}/lose": Rule(DEAL, body={"reason_id": "@lost_reason"}),
        "POST /api/v1/deals/{deal_id}/reopen": Rule(DEAL, body={}),
        "GET /api/v1/deals/{deal_id}/events": Rule(DEAL),
        "GET /api/v1/leads": Rule(record=False, lists="lead"),
        "POST /api/v1/leads": Rule(record=False, body={"title": "x", "source": "website"}),
        "GET /api/v1/leads/{lead_id}": Rule(LEAD),
        "PATCH /api/v1/leads/{lead_id}": Rule(LEAD, body={"title": f"{MARK} lead"}),
        "POST /api/v1/leads/{lead_id}/qualify": Rule(LEAD, body={}),
        "POST /api/v1/leads/{lead_id}/disqualify": Rule(LEAD, body={"reason": "x"}),
        "POST /api/v1/leads/{lead_id}/convert": Rule(LEAD, body={}),
        "GET /api/v1/activities": Rule(record=False, lists="activity"),
        "POST /api/v1/activities": Rule(record=False, body={"subject": "x"}),
        "GET /api/v1/activities/{activity_id}": Rule(ACTIVITY),
        "PATCH /api/v1/activities/{activity_id}": Rule(ACTIVITY, body={"subject": f"{MARK} call"}),
        "POST /api/v1/activities/{activity_id}/complete": Rule(ACTIVITY, body={}),
        "GET /api/v1/organizations": Rule(record=False, lists="organization"),
        "POST /api/v1/organizations": Rule(record=False, body={"name": "x"}),
        "GET /api/v1/organizations/{organization_id}": Rule({"organization_id": "organization"}),
        "PATCH /api/v1/organizations/{organization_id}": Rule({"organization_id": "organization"}, body={}),
        # Deletes go to the trash; an organisation that deals, leads or people use answers 400 naming them.
        "DELETE /api/v1/organizations/{organization_id}": Rule({"organization_id": "organization"}),
        "DELETE /api/v1/deals/{deal_id}": Rule(DEAL),
        "DELETE /api/v1/leads/{lead_id}": Rule(LEAD),
        "DELETE /api/v1/activities/{activity_id}": Rule(ACTIVITY),
        "POST /api/v1/deals/{deal_id}/undo": Rule(
            DEAL,
            body={"version": 1, "previous_stage_id": "@stage"},
            expect={"rep": REFUSED_OR_DONE, "manager": REFUSED_OR_DONE, "admin": REFUSED_OR_DONE},
        ),
        "GET /api/v1/trash": Rule(record=False),
        # Before the deletes (writes run first) nothing is in the trash: 404 for everyone, as for a record
        # one may not see. tests/security/test_trash_doors.py walks the trash's own doors.
        "POST /api/v1/trash/{kind}/{record_id}/restore": Rule(
            TRASHED,
            body={},
            expect={persona: allow(404) for persona in ("rep", "manager", "admin", "analyst")},
        ),
        # After DELETE /deals/{id}: each persona's own deletion is in their trash; only the admin purges.
        "DELETE /api/v1/trash/{kind}/{record_id}": Rule(
            TRASHED, expect={"rep": DENIED, "manager": DENIED, "analyst": DENIED}
        ),
        "GET /api/v1/persons": Rule(record=False, lists="person"),
        "POST /api/v1/persons": Rule(record=False, body={"first_name": "x"}),
        "GET /api/v1/persons/{person_id}": Rule({"person_id": "person"}),
        "PATCH /api/v1/persons/{person_id}": Rule({"person_id": "person"}, body={}),
        "DELETE /api/v1/persons/{person_id}": Rule({"person_id": "person"}),
        "GET /api/v1/persons/{person_id}/export": Rule({"person_id": "person"}),
        "POST /api/v1/persons/{person_id}/erase": Rule({"person_id": "person"}, body={}),
        "GET /api/v1/search": Rule(record=False),
        # Saved views are their owner's (or a team's they are shared with); saving one is no pipeline write.
        "GET /api/v1/saved-views": Rule(record=False, lists="saved_view"),
        "POST /api/v1/saved-views": Rule(record=False, body={"name": "x"}, expect={"analyst": OK}),
        "DELETE /api/v1/saved-views/{view_id}": Rule(
            {"view_id": "saved_view"},
            expect={persona: allow(404) for persona in ("manager", "admin", "analyst")},
        ),
        "GET /api/v1/organizations-duplicates": Rule(record=False),
        "GET /api/v1/persons-duplicates": Rule(record=False),
        "POST /api/v1/organizations/{organization_id}/merge": Rule(
            {"organization_id": "organization"}, body={"merged_id": "@organization"}
        ),
        "POST /api/v1/persons/{person_id}/merge": Rule(
            {"person_id": "person"}, body={"merged_id": "@person"}
        ),
        # Settings: reference data every signed-in user reads; only admins change it.
        "GET /api/v1/pipelines": Rule(record=False),
        "POST /api/v1/pipelines": Rule(record=False, body={"name": "x"}, expect=ADMIN_ONLY),
        "GET /api/v1/pipelines/{pipeline_id}": Rule({"pipeline_id": "pipeline"}, record=False),
        "PATCH /api/v1/pipelines/{pipeline_id}": Rule(
            {"pipeline_id": "pipeline"}, record=False, body={}, expect=ADMIN_ONLY
        ),
        "DELETE /api/v1/pipelines/{pipeline_id}": Rule(
            {"pipeline_id": "spare_pipeline"}, record=False, expect=ADMIN_ONLY
        ),
        "POST /api/v1/pipelines/{pipeline_id}/stage-order": Rule(
            {"pipeline_id": "pipeline"}, record=False, body={"stage_ids": []}, expect=ADMIN_ONLY
        ),
        "GET /api/v1/stages": Rule(record=False),
        "POST /api/v1/stages": Rule(record=False, body={}, expect=ADMIN_ONLY),
        "GET /api/v1/stages/{stage_id}": Rule({"stage_id": "stage"}, record=False),
        "PATCH /api/v1/stages/{stage_id}": Rule(
            {"stage_id": "stage"}, record=False, body={}, expect=ADMIN_ONLY
        ),
        "DELETE /api/v1/stages/{stage_id}": Rule({"stage_id": "stage"}, record=False, expect=ADMIN_ONLY),
        "GET /api/v1/lost-reasons": Rule(record=False),
        "POST /api/v1/lost-reasons": Rule(record=False, body={"name": "x"}, expect=ADMIN_ONLY),
        "PATCH /api/v1/lost-reasons/{reason_id}": Rule(
            {"reason_id": "lost_reason"}, record=False, body={}, expect=ADMIN_ONLY
        ),
        "GET /api/v1/lead-sources": Rule(record=False),
        "GET /api/v1/exchange-rates": Rule(record=False),
        "POST /api/v1/exchange-rates": Rule(record=False, body={}, expect=ADMIN_ONLY),
        "DELETE /api/v1/exchange-rates/{rate_id}": Rule(
            {"rate_id": "exchange_rate"}, record=False, expect=ADMIN_ONLY
        ),
        # Own data: everybody sees only their own.
        "GET /api/v1/me": Rule(record=False),
        "GET /api/v1/tokens": Rule(record=False),
        "POST /api/v1/tokens": Rule(record=False, body={"name": "x"}, expect={"analyst": OK}),
        "DELETE /api/v1/tokens/{token_id}": Rule(
            {"token_id": "token"}, expect={"manager": allow(404), "admin": allow(404), "analyst": allow(404)}
        ),
        # Metrics and forecasts are computed over what the user may see (the selectors' scope).
        **{
            f"GET /api/v1/metrics/{name}": Rule(record=False)
            for name in ("summary", "trends", "breakdown", "funnel", "funnel/deals", "stages", "flow")
        },
        "GET /api/v1/metrics/attention": Rule(record=False),
        "GET /api/v1/metrics/products": Rule(record=False),
        "GET /api/v1/metrics/dashboard": Rule(record=False),
        "GET /api/v1/forecast/": Rule(record=False),
        "GET /api/v1/forecast/snapshots": Rule(record=False),
        "POST /api/v1/forecast/snapshots": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        "GET /api/v1/forecast/snapshots/{snapshot_id}": Rule({"snapshot_id": "snapshot"}),
        "GET /api/v1/forecast/calls": Rule(record=False),
        "POST /api/v1/forecast/calls": Rule(
            record=False, body={"period": "2026-11", "commit": "1", "best_case": "2"}
        ),
        "GET /api/v1/forecast/quotas": Rule(record=False),
        "PUT /api/v1/forecast/quotas": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        "GET /api/v1/forecast/accuracy": Rule(record=False),
        "GET /api/v1/forecast/calibration": Rule(record=False),
        # A backtest with no arguments covers the last 12 full months; analysts may run one too.
        "POST /api/v1/forecast/backtests": Rule(
            record=False, body={}, expect={**MANAGERS_ONLY, "analyst": OK}
        ),
        "GET /api/v1/forecast/backtests/{run_id}": Rule({"run_id": "backtest"}, expect={"rep": DENIED}),
        # Reviews belong to the reviewed team (started here by rep's manager).
        "GET /api/v1/reviews/deals/{deal_id}/history": Rule(DEAL, expect=REVIEWS),
        "GET /api/v1/reviews/": Rule(record=False),
        "POST /api/v1/reviews/": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        "GET /api/v1/reviews/{review_id}": Rule(REVIEW, expect=REVIEWS),
        "GET /api/v1/reviews/{review_id}/deals": Rule(REVIEW, expect=REVIEWS),
        "GET /api/v1/reviews/{review_id}/agenda": Rule(REVIEW, expect=REVIEWS),
        "GET /api/v1/reviews/{review_id}/decisions": Rule(REVIEW, expect=REVIEWS),
        "POST /api/v1/reviews/{review_id}/decisions": Rule(
            REVIEW, body={"deal_id": "@deal", "kind": "keep"}, expect=REVIEWS
        ),
        "POST /api/v1/reviews/{review_id}/decisions/bulk": Rule(
            REVIEW, body={"deal_ids": ["@deal"], "kind": "keep"}, expect=REVIEWS
        ),
        "POST /api/v1/reviews/{review_id}/decisions/{decision_id}/apply": Rule(
            {"review_id": "review", "decision_id": "decision"}, body={}, expect=REVIEWS
        ),
        "POST /api/v1/reviews/{review_id}/what-if": Rule(REVIEW, body={"deal_id": "@deal"}, expect=REVIEWS),
        "POST /api/v1/reviews/{review_id}/finish": Rule(REVIEW, body={}, expect=REVIEWS),
        "GET /api/v1/reviews/{review_id}/report": Rule(REVIEW, expect=REVIEWS),
        # People: surveys are run for a team, one-on-ones belong to their two participants.
        "GET /api/v1/people/questions/library": Rule(record=False),
        "GET /api/v1/people/surveys": Rule(record=False),
        "POST /api/v1/people/surveys": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        "GET /api/v1/people/surveys/{survey_id}": Rule(SURVEY, expect=RESULTS),
        "POST /api/v1/people/surveys/{survey_id}/stop": Rule(SURVEY, body={}, expect=RESULTS),
        "GET /api/v1/people/surveys/{survey_id}/runs": Rule(SURVEY, expect=RESULTS),
        "GET /api/v1/people/surveys/{survey_id}/enps": Rule(SURVEY, expect=RESULTS),
        "GET /api/v1/people/runs/{run_id}/results": Rule(RUN, expect=RESULTS),
        "GET /api/v1/people/runs/{run_id}/results.csv": Rule(RUN, expect=RESULTS),
        "POST /api/v1/people/runs/{run_id}/close": Rule(RUN, body={}, expect=RESULTS),
        "GET /api/v1/people/invitations": Rule(record=False),
        "GET /api/v1/people/runs/{run_id}/questions": Rule(RUN, expect=RESPOND),
        "POST /api/v1/people/runs/{run_id}/responses": Rule(RUN, body={"answers": {}}, expect=RESPOND),
        "GET /api/v1/people/one-on-ones": Rule(record=False),
        "POST /api/v1/people/one-on-ones": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        "GET /api/v1/people/one-on-ones/{series_id}": Rule(SERIES, expect=PRIVATE),
        "GET /api/v1/people/one-on-ones/{series_id}/calendar.ics": Rule(SERIES, expect=PRIVATE),
        "GET /api/v1/people/meetings/{meeting_id}": Rule(MEETING, expect=PRIVATE),
        "GET /api/v1/people/meetings/{meeting_id}/calendar.ics": Rule(MEETING, expect=PRIVATE),
        "POST /api/v1/people/meetings/{meeting_id}/agenda": Rule(MEETING, body={"text": "x"}, expect=PRIVATE),
        "PATCH /api/v1/people/agenda/{item_id}": Rule(
            {"item_id": "agenda_item"}, body={"is_done": True}, expect=PRIVATE
        ),
        "PUT /api/v1/people/meetings/{meeting_id}/shared-notes": Rule(
            MEETING, body={"text": "x"}, expect=PRIVATE
        ),
        "GET /api/v1/people/meetings/{meeting_id}/private-note": Rule(MEETING, expect=PRIVATE),
        "PUT /api/v1/people/meetings/{meeting_id}/private-note": Rule(
            MEETING, body={"text": "x"}, expect=PRIVATE
        ),
        "POST /api/v1/people/meetings/{meeting_id}/complete": Rule(MEETING, body={}, expect=PRIVATE),
        "POST /api/v1/people/meetings/{meeting_id}/action-items": Rule(
            MEETING, body={"text": "x", "owner_id": "@rep_user"}, expect=PRIVATE
        ),
        "PATCH /api/v1/people/action-items/{item_id}": Rule(
            {"item_id": "action_item"}, body={"is_done": True}, expect=PRIVATE
        ),
        "GET /api/v1/people/action-items": Rule(record=False),
        # Imports: admins and managers, each their own jobs.
        "GET /api/v1/imports": Rule(record=False, expect=MANAGERS_ONLY),
        "POST /api/v1/imports": Rule(record=False, body={}, expect=MANAGERS_ONLY),
        # (a rep of another team is refused by role first: 403 "only admins and managers may import")
        "GET /api/v1/imports/{job_id}": Rule(JOB, expect=OWN_JOB),
        "POST /api/v1/imports/{job_id}/options": Rule(JOB, body={}, expect=OWN_JOB),
        "POST /api/v1/imports/{job_id}/confirm": Rule(JOB, body={}, expect=OWN_JOB),
        "POST /api/v1/imports/{job_id}/retry": Rule(JOB, body={}, expect=OWN_JOB),
        "DELETE /api/v1/imports/{job_id}": Rule(JOB, expect=OWN_JOB),
        "GET /api/v1/exports/{entity}": Rule({"entity": "export_entity"}, record=False),
        # Products (admins write the catalogue), deal lines, quotes, custom fields and tags.
        "GET /api/v1/products": Rule(record=False),
        "POST /api/v1/products": Rule(record=False, body={"name": "x", "code": "X-1"}, expect=ADMIN_ONLY),
        "GET /api/v1/products/{product_id}": Rule({"product_id": "product"}, record=False),
        "PATCH /api/v1/products/{product_id}": Rule(
            {"product_id": "product"}, record=False, body={"unit": "seat"}, expect=ADMIN_ONLY
        ),
        "GET /api/v1/deals/{deal_id}/lines": Rule(DEAL),
        "PUT /api/v1/deals/{deal_id}/lines": Rule(DEAL, body={"lines": [{"product_id": "@product"}]}),
        "GET /api/v1/deals/{deal_id}/quotes": Rule(DEAL),
        "POST /api/v1/deals/{deal_id}/quotes": Rule(DEAL, body={}),
        "GET /api/v1/quotes/{quote_id}": Rule(QUOTE),
        "PATCH /api/v1/quotes/{quote_id}": Rule(QUOTE, body={"terms": "Net 30"}),
        "POST /api/v1/quotes/{quote_id}/send": Rule(QUOTE, body={"send_email": False}),
        "POST /api/v1/quotes/{quote_id}/accept": Rule(QUOTE, body={}),
        "POST /api/v1/quotes/{quote_id}/decline": Rule(QUOTE, body={}),
        "GET /api/v1/quotes/{quote_id}/pdf": Rule(QUOTE),
        "GET /api/v1/pipelines/{pipeline_id}/quote-rule": Rule({"pipeline_id": "pipeline"}, record=False),
        "PUT /api/v1/pipelines/{pipeline_id}/quote-rule": Rule(
            {"pipeline_id": "pipeline"}, record=False, body={"on_accept": "win"}, expect=ADMIN_ONLY
        ),
        "GET /api/v1/custom-fields": Rule(record=False),
        "POST /api/v1/custom-fields": Rule(
            record=False, body={"entity": "deal", "key": "x", "label": "X", "kind": "text"}, expect=ADMIN_ONLY
        ),
        "PATCH /api/v1/custom-fields/{field_id}": Rule(
            {"field_id": "custom_field"}, record=False, body={"label": "Tier"}, expect=ADMIN_ONLY
        ),
        "GET /api/v1/deals/{deal_id}/custom-fields": Rule(DEAL),
        "PATCH /api/v1/deals/{deal_id}/custom-fields": Rule(DEAL, body={"values": {"tier": "Gold"}}),
        "GET /api/v1/organizations/{organization_id}/custom-fields": Rule(
            {"organization_id": "organization"}
        ),
        "PATCH /api/v1/organizations/{organization_id}/custom-fields": Rule(
            {"organization_id": "organization"}, body={"values": {}}
        ),
        "GET /api/v1/persons/{person_id}/custom-fields": Rule({"person_id": "person"}),
        "PATCH /api/v1/persons/{person_id}/custom-fields": Rule({"person_id": "person"}, body={"values": {}}),
        "GET /api/v1/leads/{lead_id}/custom-fields": Rule(LEAD),
        "PATCH /api/v1/leads/{lead_id}/custom-fields": Rule(LEAD, body={"values": {}}),
        "GET /api/v1/tags": Rule(record=False),
        "GET /api/v1/deals/{deal_id}/tags": Rule(DEAL),
        "PUT /api/v1/deals/{deal_id}/tags": Rule(DEAL, body={"tags": ["vip"]}),
        "PUT /api/v1/organizations/{organization_id}/tags": Rule(
            {"organization_id": "organization"}, body={"tags": ["vip"]}
        ),
        "PUT /api/v1/persons/{person_id}/tags": Rule({"person_id": "person"}, body={"tags": ["vip"]}),
        "POST /api/v1/bulk-tags/deals": Rule(
            record=False, body={"ids": ["@deal"], "tags": ["vip"]}, expect={"outsider": allow(404)}
        ),
        "POST /api/v1/bulk-tags/organizations": Rule(
            record=False, body={"ids": ["@organization"], "tags": ["vip"]}, expect={"outsider": allow(404)}
        ),
        "POST /api/v1/bulk-tags/persons": Rule(
            record=False, body={"ids": ["@person"], "tags": ["vip"]}, expect={"outsider": allow(404)}
        ),
        "POST /api/v1/deals/bulk-edit": Rule(
            record=False,
            body={"deal_ids": ["@deal"], "action": "close_date", "expected_close_on": "2027-01-31"},
            expect={"outsider": allow(404)},
        ),
        # Commissions: plans and contests are the admins'; statements follow the statement gate (own,
        # managed teams', admins'); only managers of the person and admins approve, adjust and pay.
        **commission_api_rules(),
        **automation_api_rules(),
    }


# Notifications are their user's own; rules are their managers' and admins' (reps and analysts see none);
# a webhook subscription is its owner's (and admins'). Each other user gets the same 404 as for nothing.
OWN_NOTIFICATION = {"manager": allow(404), "admin": allow(404), "analyst": allow(404)}
TEAM_RULE = {"rep": allow(404), "analyst": allow(404)}
OWN_WEBHOOK = {"manager": allow(404), "analyst": allow(404)}
RULE_BODY = {
    "name": "x",
    "trigger": "won",
    "action": "notify",
    "params": {"recipient": "owner", "message": "m"},
}


def automation_api_rules() -> dict[str, Rule]:
    rule = {"rule_id": "rule"}
    hook = {"subscription_id": "subscription"}
    return {
        "GET /api/v1/notifications": Rule(record=False),
        "GET /api/v1/notifications/count": Rule(record=False),
        "POST /api/v1/notifications/{notification_id}/read": Rule(
            {"notification_id": "notification"}, body={}, expect=OWN_NOTIFICATION
        ),
        "POST /api/v1/notifications/read-all": Rule(record=False, body={}, expect={"analyst": OK}),
        "GET /api/v1/notifications/preferences": Rule(record=False),
        "PUT /api/v1/notifications/preferences": Rule(
            record=False, body={"channels": {"mention": "both"}}, expect={"analyst": OK}
        ),
        "GET /api/v1/notifications/calendar-feed": Rule(record=False),
        "POST /api/v1/notifications/calendar-feed": Rule(record=False, body={}, expect={"analyst": OK}),
        "DELETE /api/v1/notifications/calendar-feed": Rule(record=False, expect={"analyst": OK}),
        "GET /api/v1/automation/rules": Rule(record=False),
        "POST /api/v1/automation/rules": Rule(record=False, body=RULE_BODY, expect=ADMIN_ONLY),
        "POST /api/v1/automation/rules/dry-run": Rule(record=False, body=RULE_BODY, expect=ADMIN_ONLY),
        "GET /api/v1/automation/rules/{rule_id}": Rule(rule, expect=TEAM_RULE),
        "PATCH /api/v1/automation/rules/{rule_id}": Rule(rule, body={"is_active": False}, expect=TEAM_RULE),
        "DELETE /api/v1/automation/rules/{rule_id}": Rule(rule, expect=TEAM_RULE),
        "GET /api/v1/automation/rules/{rule_id}/runs": Rule(rule, expect=TEAM_RULE),
        "GET /api/v1/webhooks": Rule(record=False),
        "POST /api/v1/webhooks": Rule(
            record=False,
            body={"name": "x", "url": "https://example.com/h", "event_types": ["deal.won"]},
            expect={"analyst": OK},
        ),
        "GET /api/v1/webhooks/{subscription_id}": Rule(hook, expect=OWN_WEBHOOK),
        "PATCH /api/v1/webhooks/{subscription_id}": Rule(hook, body={"name": "y"}, expect=OWN_WEBHOOK),
        "DELETE /api/v1/webhooks/{subscription_id}": Rule(hook, expect=OWN_WEBHOOK),
        "POST /api/v1/webhooks/{subscription_id}/resume": Rule(hook, body={}, expect=OWN_WEBHOOK),
        "POST /api/v1/webhooks/{subscription_id}/secret": Rule(hook, body={}, expect=OWN_WEBHOOK),
        "GET /api/v1/webhooks/{subscription_id}/deliveries": Rule(hook, expect=OWN_WEBHOOK),
        "GET /api/v1/webhooks/{subscription_id}/attempts": Rule(hook, expect=OWN_WEBHOOK),
        "GET /api/v1/webhooks/{subscription_id}/sample": Rule(hook, expect=OWN_WEBHOOK),
    }


API_RULES = api_rule_table()


def api_operations() -> list[str]:
    from dealflow.api.urls import api

    schema = api.get_openapi_schema()
    return sorted(
        f"{method.upper()} {path}" for path, methods in schema["paths"].items() for method in methods
    )


def _reads_first(operation: str) -> tuple[bool, bool, str]:
    """Reads, then writes, then deletes: a persona's run must not remove the records later paths need."""
    method = operation.split(" ", 1)[0]
    return method not in READ, method == "DELETE", operation


OPERATIONS = api_operations()


class World:
    """Records owned by rep (of team Benelux), plus reference data and records the paths need."""

    def __init__(self, *, rep, manager, team) -> None:
        from dealflow.accounts.services import token_create
        from dealflow.contacts.models import Organization, Person
        from dealflow.customfields.services import custom_field_create
        from dealflow.deals.models import LostReason, Stage
        from dealflow.deals.services import (
            activity_create,
            deal_lines_set,
            exchange_rate_set,
            pipeline_create,
        )
        from dealflow.deals.tests.factories import DealFactory, LeadFactory, default_pipeline
        from dealflow.forecasting.services import backtest_create
        from dealflow.importers.services import import_job_create
        from dealflow.people import services as people
        from dealflow.people.tests.factories import OneOnOneSeriesFactory, SurveyFactory
        from dealflow.products.tests.factories import ProductFactory
        from dealflow.quotes.services import quote_create
        from dealflow.reviews.services.decisions import review_decision_record
        from dealflow.reviews.services.reviews import review_start

        self.trash_kind = "deal"
        self.organization = Organization.objects.create(name=f"{MARK} organization", owner=rep)
        self.person = Person.objects.create(
            first_name=MARK, last_name="Person", organization=self.organization, owner=rep
        )
        self.deal = DealFactory(owner=rep, title=f"{MARK} deal", organization=self.organization)
        self.lead = LeadFactory(owner=rep, title=f"{MARK} lead")
        self.activity = activity_create(owner=rep, subject=f"{MARK} call", deal=self.deal, by=rep)
        self.pipeline = default_pipeline()
        self.spare_pipeline = pipeline_create(name="Spare")
        self.stage = Stage.objects.filter(pipeline=self.pipeline).order_by("order").first()
        self.lost_reason = LostReason.objects.order_by("pk").first()
        self.exchange_rate = exchange_rate_set(
            currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2020, 1, 1)
        )
        self.token, _ = token_create(user=rep, name="matrix")
        self.snapshot = _snapshot_of(rep)
        self.backtest = backtest_create(by=manager, period_from="2026-01", period_to="2026-02")
        self.review = review_start(
            by=manager, period=timezone.localdate().strftime("%Y-%m"), team=team, recurring=True
        )
        self.review_series = self.review.series
        self.decision = review_decision_record(
            review=self.review, deal_id=self.deal.pk, kind="keep", by=manager
        )
        self.survey = SurveyFactory(by=manager, teams=[team])
        self.run = self.survey.runs.order_by("pk").first()
        assert self.run is not None, "a new survey opens its first run"
        self.series = OneOnOneSeriesFactory(manager=manager, rep=rep)
        self.meeting = self.series.meetings.order_by("pk").first()
        self.agenda_item = people.agenda_item_add(meeting=self.meeting, text="Pipeline", by=rep)
        self.action_item = people.action_item_add(meeting=self.meeting, text="Call", owner=rep, by=manager)
        self.import_job = import_job_create(
            by=manager, upload=SimpleUploadedFile("deals.csv", b"title,amount\nA,1\n", "text/csv")
        )
        self.export_entity = "deals"
        self.product = ProductFactory(code="MATRIX", prices={"EUR": "100"})
        deal_lines_set(deal=self.deal, lines=[{"product": self.product}], by=rep)
        self.deal.refresh_from_db()
        self.quote = quote_create(deal=self.deal, by=rep)
        self.quote_verb = "accept"
        self.document_kind = "html"
        self.custom_field = custom_field_create(
            entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold", "Silver"]
        )
        self.rep_user = rep
        self.team = team
        self.field_name = "title"
        self.report_format = "md"
        self.forecast_column = "none"  # the "no close date" column
        self.waterfall_bar = "new"  # deals new in scope since the previous review
        self.search_kind = "deal"  # web:search_open opens rep's deal
        from dealflow.directory.services import saved_view_save

        self.saved_view = saved_view_save(owner=rep, name=f"{MARK} view", query="status=open")
        # Notifications and automation: rep's notification and webhook, a rule of rep's team by its manager.
        from dealflow.automation.services import rule_create, subscription_create
        from dealflow.notifications.services import Message, notify

        self.notification = notify(
            user=rep, kind="rule", key="matrix", message=Message(f"{MARK} notification", {})
        )
        self.rule = rule_create(
            by=manager,
            data={
                "name": f"{MARK} rule",
                "team": team,
                "trigger": "won",
                "action": "notify",
                "params": {"recipient": "owner", "message": "won"},
            },
        )
        self.subscription, _ = subscription_create(
            by=rep, name=f"{MARK} hook", url="https://example.com/hook", event_types=["deal.won"]
        )
        self.webhook_verb = "toggle"
        # Commissions: rep's plan and draft statement of this quarter, a dispute on it, a company contest.
        from dealflow.commissions.models import Contest
        from dealflow.commissions.services.disputes import dispute_open
        from dealflow.commissions.services.statements import statement_recompute
        from dealflow.commissions.tests.factories import plan_for
        from dealflow.core.periods import period_containing

        self.commission_plan = plan_for(rep, name="Matrix plan")
        self.statement = statement_recompute(
            user=rep, period=period_containing(timezone.localdate(), kind="quarter")
        )
        self.commission_dispute = dispute_open(statement=self.statement, line=None, body="Why?", by=rep)
        self.contest = Contest.objects.create(
            name="Matrix contest",
            measure="activities",
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
            target=5,
            created_at=timezone.now(),
        )
        self.statement_action = "recompute"
        self.dispute_action = "reply"
        self.payroll_format = "csv"

    def value(self, attribute: str) -> str:
        value = getattr(self, attribute)
        return str(value if isinstance(value, str) else value.pk)


def _snapshot_of(rep):
    """A frozen forecast of rep's own scope (written directly: the forecast needs history to take one)."""
    from dealflow.forecasting.models import ForecastSnapshot

    now = timezone.now()
    money = dict.fromkeys(
        [
            "closed_to_date_minor",
            "expected_open_minor",
            "expected_new_minor",
            "weighted_minor",
            "commit_minor",
            "best_case_minor",
            "pipeline_minor",
            "mean_minor",
            "p10_minor",
            "p50_minor",
            "p90_minor",
        ],
        0,
    )
    return ForecastSnapshot.objects.create(
        run_key="matrix",
        as_of=now,
        as_of_on=now.date(),
        period_key=now.strftime("%Y-%m"),
        period_start=now.date().replace(day=1),
        period_end=now.date(),
        scope_kind="rep",
        owner=rep,
        method="mc",
        level="L0",
        currency="EUR",
        open_deals=1,
        draws=0,
        seed=0,
        origin="test",
        created_at=now,
        **money,
    )


@pytest.fixture
def world(db, rep, manager, team, outsider, analyst, admin_user, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 0}
    return World(rep=rep, manager=manager, team=team)


def _client_for(persona: str, request):
    from django.test import Client

    client = Client(raise_request_exception=False)
    if persona != "anonymous":
        user = request.getfixturevalue("admin_user" if persona == "admin" else persona)
        client.force_login(user)
    return client


def _fill(path: str, params: dict[str, str], world: World) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(name)
        return world.value(params[name])

    return re.sub(r"\{(\w+)\}", replace, path)


def _api_expected(persona: str, method: str, rule: Rule) -> frozenset[int] | None:
    """The allowed codes, or None for the default "not 404/401/5xx" check."""
    if persona == "anonymous":
        return allow(401)
    if persona in rule.expect:
        return rule.expect[persona]
    if persona == "outsider" and rule.record:
        return allow(404)
    if persona == "analyst" and method not in READ:
        return allow(403)
    return None


def test_every_operation_has_a_rule():
    missing = [operation for operation in OPERATIONS if operation not in API_RULES]
    stale = [operation for operation in API_RULES if operation not in OPERATIONS]
    assert not missing, "add a rule for " + ", ".join(missing)
    assert not stale, "these rules name no operation any more: " + ", ".join(stale)


def _check(status: int, expected: frozenset[int] | None, persona: str) -> bool:
    if status in SERVER_ERRORS:
        return False
    if expected is not None:
        return status in expected
    if persona == "analyst":
        return status not in (401, 403, 404)
    return status not in (401, 404)


def _resolve(value, world: World):
    """Replace "@attribute" in a request body with the id of that record of the world."""
    if isinstance(value, dict):
        return {key: _resolve(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, world) for item in value]
    if isinstance(value, str) and value.startswith("@"):
        return int(world.value(value[1:]))
    return value


def _list_ids(response) -> list[int]:
    body = response.json()
    items = body.get("items", body) if isinstance(body, dict) else body
    return [item.get("id") for item in items if isinstance(item, dict)]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_answers_each_persona_as_the_rules_say(world, persona, request):
    client = _client_for(persona, request)
    failures = []
    for operation in sorted(OPERATIONS, key=_reads_first):
        rule = API_RULES.get(operation)
        if rule is None:
            continue  # test_every_operation_has_a_rule names it
        method, path = operation.split(" ", 1)
        url = _fill(path, rule.params, world)
        body = json.dumps(_resolve(rule.body or {}, world)) if method not in READ else ""
        response = client.generic(method, url, body, content_type="application/json")
        expected = _api_expected(persona, method, rule)
        if not _check(response.status_code, expected, persona):
            detail = response.content[:160].decode(errors="replace")
            failures.append(
                f"{operation} as {persona}: {response.status_code} (want {expected or 'no 4xx'}) {detail}"
            )
        if rule.lists and response.status_code == 200 and persona in ("outsider", "rep"):
            record_id = getattr(world, rule.lists).pk
            listed = record_id in _list_ids(response)
            if listed != (persona == "rep"):
                failures.append(f"{operation} as {persona}: rep's {rule.lists} listed={listed}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- web

WEB_PARAMS = {
    "deal_id": "deal",
    "lead_id": "lead",
    "activity_id": "activity",
    "review_id": "review",
    "decision_id": "decision",
    "run_id": "run",
    "survey_id": "survey",
    "meeting_id": "meeting",
    "series_id": "series",
    "job_id": "import_job",
    "backtest_id": "backtest",
    "run_pk": "backtest",
}


@dataclass(frozen=True)
class WebRule:
    params: dict[str, str] = field(default_factory=dict)
    record: bool = True
    data: dict | None = None
    expect: dict[str, frozenset[int]] = field(default_factory=dict)
    shows: str | None = None  # a page that lists rep's record of this kind: rep sees MARK, outsider never


def _web(**params: str) -> dict[str, str]:
    return params


WEB_ADMIN_ONLY = {persona: allow(403, 404) for persona in ("rep", "manager", "analyst", "outsider")}
WEB_MANAGERS_ONLY = {persona: allow(403, 404) for persona in ("rep", "analyst", "outsider")}
WEB_PRIVATE = {"analyst": DENIED | OK, "admin": DENIED | OK | allow(400)}
WEB_RESULTS = WEB_PRIVATE | {"rep": DENIED}
WEB_REVIEWS = {"rep": allow(404), "analyst": allow(404)}
# Forms that are no record's: a refusal is a redirect back with the error as a message (the web's 400).
WEB_FORM = {persona: DENIED | allow(302) for persona in ("rep", "analyst", "outsider")}
WEB_OWN_JOB = OWN_JOB


def commission_web_rules() -> dict[str, WebRule]:
    page = WebRule(record=False)
    return {
        "web:commission_earnings": page,
        "web:commission_statements": page,
        "web:commission_recompute": WebRule(record=False, data={"period": "2026-Q4"}),
        "web:commission_statement": WebRule(_web(statement_id="statement")),
        "web:commission_statement_action": WebRule(_web(statement_id="statement", action="statement_action")),
        "web:commission_statement_pdf": WebRule(_web(statement_id="statement")),
        "web:commission_dispute_open": WebRule(_web(statement_id="statement"), data={"body": "Why?"}),
        "web:commission_dispute_action": WebRule(
            _web(dispute_id="commission_dispute", action="dispute_action"), data={"body": "More?"}
        ),
        "web:commission_payroll": WebRule(_web(export_format="payroll_format"), record=False),
        "web:commission_plans": WebRule(record=False, expect=WEB_ADMIN_ONLY),
        "web:commission_plan": WebRule(_web(plan_id="commission_plan"), record=False, expect=WEB_ADMIN_ONLY),
        "web:commission_leaderboard": page,
        "web:commission_contest_create": WebRule(record=False, expect=WEB_ADMIN_ONLY),
        "web:commission_contest": WebRule(_web(contest_id="contest"), record=False),
        "web:commission_what_if": WebRule(_web(deal_id="deal")),
        "web:commission_deal_split": WebRule(_web(deal_id="deal"), data={"user": [], "share": []}),
        "web:commission_celebration": page,
        "web:commission_board_what_if": page,
    }


def web_rule_table() -> dict[str, WebRule]:
    page = WebRule(record=False)
    return {
        "web:home": WebRule(record=False, shows="deal"),
        "web:dashboard": page,
        "web:dashboard_attention": page,
        "web:funnel": page,
        "web:forecast": page,
        "web:forecast_panels": page,
        "web:forecast_board": page,
        "web:forecast_board_column": WebRule(
            _web(column_key="forecast_column"), record=False, expect={"analyst": OK | DENIED}
        ),
        "web:forecast_board_move": WebRule(_web(deal_id="deal")),
        "web:forecast_backtest": WebRule(record=False, expect=WEB_FORM),
        "web:forecast_backtest_status": WebRule(_web(run_id="backtest"), expect={"rep": DENIED}),
        "web:forecast_call": WebRule(record=False, expect=WEB_FORM),
        "web:forecast_quota": WebRule(record=False, expect=WEB_FORM),
        "web:forecast_snapshot": WebRule(record=False, expect=WEB_MANAGERS_ONLY),
        "web:metrics_definitions": page,
        "web:board_column": WebRule(_web(stage_id="stage"), record=False),
        "web:board_move": WebRule(_web(deal_id="deal")),
        "web:board_undo": WebRule(
            _web(deal_id="deal"), data={"version": "1", "previous_stage": "1"}, expect={"analyst": DENIED}
        ),
        "web:board_activity": WebRule(_web(deal_id="deal"), data={"kind": "call", "subject": "x"}),
        "web:trash": page,
        # Nothing is in the trash before web:trash_delete runs (deletes run last): 404 as for a stranger's.
        "web:trash_restore": WebRule(
            _web(kind="trash_kind", record_id="deal"),
            expect={persona: allow(404) for persona in ("rep", "manager", "admin", "analyst")},
        ),
        "web:trash_purge": WebRule(
            _web(kind="trash_kind", record_id="deal"),
            expect={persona: allow(404) for persona in ("rep", "manager", "admin", "analyst")},
        ),
        "web:trash_delete": WebRule(_web(kind="trash_kind", record_id="deal")),
        "web:deal_list": WebRule(record=False, shows="deal"),
        "web:deal_create": WebRule(record=False, expect={"analyst": allow(403)}),
        "web:deal_bulk": WebRule(record=False, expect=WEB_FORM),
        "web:deal_export": page,
        "web:export": WebRule(_web(entity="export_entity"), record=False),
        "web:deal_detail": WebRule(_web(deal_id="deal")),
        "web:deal_field_update": WebRule(_web(deal_id="deal", field="field_name")),
        "web:deal_activity_create": WebRule(_web(deal_id="deal")),
        "web:deal_mark_lost": WebRule(_web(deal_id="deal")),
        "web:deal_mark_won": WebRule(_web(deal_id="deal")),
        "web:deal_reopen": WebRule(_web(deal_id="deal")),
        "web:deal_stage_update": WebRule(_web(deal_id="deal")),
        "web:deal_lines_update": WebRule(_web(deal_id="deal")),
        "web:deal_custom_values_update": WebRule(_web(deal_id="deal")),
        "web:deal_tags_update": WebRule(_web(deal_id="deal")),
        "web:deal_quote_create": WebRule(_web(deal_id="deal")),
        "web:quote_action": WebRule(_web(quote_id="quote", action="quote_verb")),
        "web:quote_document": WebRule(_web(quote_id="quote", kind="document_kind")),
        "web:activity_done": WebRule(_web(activity_id="activity")),
        "web:my_activities": WebRule(record=False, expect={"analyst": OK}),
        "web:lead_inbox": WebRule(record=False, shows="lead"),
        "web:lead_create": WebRule(record=False, expect={"analyst": allow(403)}),
        "web:lead_checklist": WebRule(_web(lead_id="lead")),
        "web:lead_convert": WebRule(_web(lead_id="lead")),
        "web:lead_disqualify": WebRule(_web(lead_id="lead")),
        # Organizations and people (issue 15): rep's own, so outsiders get 404 and lists never show them.
        "web:organization_list": WebRule(record=False, shows="organization"),
        "web:organization_create": WebRule(record=False, expect={"analyst": allow(403)}),
        "web:organization_autocomplete": page,
        "web:organization_detail": WebRule(_web(organization_id="organization")),
        "web:organization_edit": WebRule(_web(organization_id="organization")),
        "web:organization_activity_create": WebRule(_web(organization_id="organization")),
        "web:person_list": WebRule(record=False, shows="person"),
        "web:person_create": WebRule(record=False, expect={"analyst": allow(403)}),
        "web:person_autocomplete": page,
        "web:person_detail": WebRule(_web(person_id="person")),
        "web:person_edit": WebRule(_web(person_id="person")),
        "web:person_activity_create": WebRule(_web(person_id="person")),
        "web:person_export": WebRule(_web(person_id="person")),
        "web:person_erase": WebRule(_web(person_id="person")),
        "web:search": page,
        "web:activity_quick_create": WebRule(record=False, expect={"analyst": allow(403)}),
        "web:saved_view_create": WebRule(record=False, expect={"analyst": OK}),
        "web:saved_view_open": WebRule(
            _web(view_id="saved_view"),
            expect={persona: allow(404) for persona in ("manager", "admin", "analyst")},
        ),
        "web:saved_view_delete": WebRule(
            _web(view_id="saved_view"),
            expect={persona: allow(404) for persona in ("manager", "admin", "analyst")},
        ),
        # The merge page is for merging: a read-only analyst is refused even the list of duplicates.
        "web:organization_merge": WebRule(
            _web(organization_id="organization"), expect={"analyst": allow(403)}
        ),
        "web:person_merge": WebRule(_web(person_id="person"), expect={"analyst": allow(403)}),
        "web:merge_list": WebRule(record=False, expect=WEB_ADMIN_ONLY),
        "web:search_open": WebRule(_web(kind="search_kind", object_id="deal")),
        "web:tokens": WebRule(record=False, expect={"analyst": OK | allow(400)}),
        # Revoking a token is its owner's alone: everyone else gets the same 404.
        "web:token_revoke": WebRule(
            _web(token_id="token"),
            expect={persona: allow(404) for persona in ("manager", "analyst", "admin")},
        ),
        "web:audit_log": WebRule(record=False, expect=WEB_ADMIN_ONLY),
        "web:language_set": WebRule(record=False, expect={"analyst": OK | allow(400)}),
        "web:password_change": WebRule(record=False, expect={"analyst": OK}),
        # Reviews: rep's team's review, started by rep's manager.
        "web:review_list": page,
        "web:review_start": WebRule(record=False, expect=WEB_MANAGERS_ONLY),
        "web:review_detail": WebRule(_web(review_id="review"), expect=WEB_REVIEWS),
        "web:review_deal": WebRule(_web(review_id="review", deal_id="deal"), expect=WEB_REVIEWS),
        "web:review_decide": WebRule(_web(review_id="review", deal_id="deal"), expect=WEB_REVIEWS),
        "web:review_what_if": WebRule(_web(review_id="review", deal_id="deal"), expect=WEB_REVIEWS),
        "web:review_bulk": WebRule(_web(review_id="review"), expect=WEB_REVIEWS),
        "web:review_decision_apply": WebRule(
            _web(review_id="review", decision_id="decision"), expect=WEB_REVIEWS
        ),
        "web:review_finish": WebRule(_web(review_id="review"), expect=WEB_REVIEWS),
        "web:review_report": WebRule(_web(review_id="review"), expect=WEB_REVIEWS),
        "web:review_export": WebRule(
            _web(review_id="review", export_format="report_format"), expect=WEB_REVIEWS
        ),
        "web:review_deal_history": WebRule(_web(deal_id="deal"), expect=WEB_REVIEWS),
        # The world's review is its scope's first: it has no waterfall, so every bar is 404 for everyone;
        # what matters here is that rep, analyst and outsider never get more than that.
        "web:review_waterfall_items": WebRule(
            _web(review_id="review", bar="waterfall_bar"),
            expect=WEB_REVIEWS | {"manager": OK | allow(404), "admin": OK | allow(404)},
        ),
        "web:review_series_stop": WebRule(_web(series_id="review_series"), expect=WEB_REVIEWS),
        # People.
        "web:people_home": page,
        "web:people_action_items": page,
        "web:people_one_on_ones": page,
        "web:people_survey_new": WebRule(record=False, expect=WEB_MANAGERS_ONLY),
        "web:people_survey": WebRule(_web(survey_id="survey"), expect=WEB_RESULTS),
        "web:people_survey_stop": WebRule(_web(survey_id="survey"), expect=WEB_RESULTS),
        "web:people_enps": WebRule(_web(survey_id="survey"), expect=WEB_RESULTS),
        "web:people_results": WebRule(_web(run_id="run"), expect=WEB_RESULTS),
        "web:people_results_csv": WebRule(_web(run_id="run"), expect=WEB_RESULTS),
        "web:people_run_close": WebRule(_web(run_id="run"), expect=WEB_RESULTS),
        "web:people_answer": WebRule(_web(run_id="run"), expect=WEB_PRIVATE | {"manager": DENIED}),
        "web:people_series": WebRule(_web(series_id="series"), expect=WEB_PRIVATE),
        "web:people_series_ics": WebRule(_web(series_id="series"), expect=WEB_PRIVATE),
        "web:people_series_stop": WebRule(_web(series_id="series"), expect=WEB_PRIVATE),
        "web:people_meeting": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_meeting_ics": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_meeting_notes": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_meeting_complete": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_agenda_add": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_action_add": WebRule(_web(meeting_id="meeting"), expect=WEB_PRIVATE),
        "web:people_agenda_toggle": WebRule(_web(item_id="agenda_item"), expect=WEB_PRIVATE),
        "web:people_action_toggle": WebRule(_web(item_id="action_item"), expect=WEB_PRIVATE),
        # Imports: admins and managers, their own jobs.
        "web:import_start": WebRule(record=False, expect=WEB_MANAGERS_ONLY),
        **{
            f"web:import_{name}": WebRule(_web(job_id="import_job"), expect=WEB_OWN_JOB)
            for name in ("confirm", "delete", "detail", "mapping_save", "options", "progress", "retry")
        },
        # A job that rejected nothing has no rejects file: 404 for its owner too.
        "web:import_rejects": WebRule(
            _web(job_id="import_job"), expect=WEB_OWN_JOB | {"manager": allow(404), "admin": allow(404)}
        ),
        # Settings: admins only.
        **{
            name: WebRule(params, record=False, expect=WEB_ADMIN_ONLY)
            for name, params in {
                "web:settings": {},
                "web:settings_exchange_rates": {},
                "web:settings_lost_reasons": {},
                "web:settings_lost_reason_update": _web(reason_id="lost_reason"),
                "web:settings_membership_remove": _web(user_id="rep_user", team_id="team"),
                "web:settings_membership_set": _web(user_id="rep_user"),
                "web:settings_pipeline": _web(pipeline_id="pipeline"),
                "web:settings_pipeline_create": {},
                "web:settings_pipeline_update": _web(pipeline_id="pipeline"),
                "web:settings_stage_create": _web(pipeline_id="pipeline"),
                "web:settings_stage_deactivate": _web(stage_id="stage"),
                "web:settings_stage_move": _web(stage_id="stage"),
                "web:settings_stage_update": _web(stage_id="stage"),
                "web:settings_team_create": {},
                "web:settings_users": {},
                "web:settings_products": {},
                "web:settings_product_update": _web(product_id="product"),
                "web:settings_custom_fields": {},
                "web:settings_custom_field_update": _web(field_id="custom_field"),
                "web:settings_quote_rules": {},
                "web:settings_quote_rule_update": _web(pipeline_id="pipeline"),
            }.items()
        },
        # Notifications, automation rules and webhooks (see automation_api_rules).
        "web:notifications": page,
        "web:notification_bell": page,
        "web:notification_settings": page,
        "web:notification_read_all": WebRule(record=False, expect={"analyst": OK}),
        "web:notification_read": WebRule(_web(notification_id="notification"), expect=OWN_NOTIFICATION),
        "web:automation_rules": page,
        "web:automation_rule_new": WebRule(record=False, expect=WEB_MANAGERS_ONLY),
        "web:automation_rule": WebRule(_web(rule_id="rule"), expect=TEAM_RULE),
        "web:automation_rule_toggle": WebRule(_web(rule_id="rule"), expect=TEAM_RULE),
        "web:automation_rule_delete": WebRule(_web(rule_id="rule"), expect=TEAM_RULE),
        "web:automation_webhooks": page,
        "web:automation_webhook": WebRule(_web(subscription_id="subscription"), expect=OWN_WEBHOOK),
        "web:automation_webhook_action": WebRule(
            _web(subscription_id="subscription", action="webhook_verb"), expect=OWN_WEBHOOK
        ),
        **commission_web_rules(),
    }


WEB_RULES = web_rule_table()
# Public and non-web routes: the sign-in pages, health check, and the API and admin (checked elsewhere).
WEB_SKIPPED = {"web:login", "web:logout", "healthz"}
WEB_SKIPPED |= {"web:calendar_feed"}  # public: the secret in its URL is the key (notifications/tests)
WEB_ROUTES = sorted({(name, route) for name, route in ROUTES if name.startswith("web:") or name == "healthz"})


def _web_patterns() -> dict[str, str]:
    """URL name -> route with its <converter:name> placeholders."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: dict[str, str] = {}

    def visit(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                visit(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace == "web" and entry.name:
                found[f"web:{entry.name}"] = "/" + prefix + str(entry.pattern)

    visit(get_resolver().url_patterns, "", "")
    return found


def test_every_route_has_a_rule():
    names = {name for name, _ in WEB_ROUTES} - WEB_SKIPPED
    missing = sorted(names - set(WEB_RULES))
    stale = sorted(set(WEB_RULES) - names)
    assert not missing, "add a rule for " + ", ".join(missing)
    assert not stale, "these rules name no route any more: " + ", ".join(stale)


def _web_fill(route: str, rule: WebRule, world: World) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return world.value(rule.params[name])

    return re.sub(r"<(?:\w+:)?(\w+)>", replace, route)


def _web_expected(persona: str, method: str, rule: WebRule) -> frozenset[int] | None:
    if persona in rule.expect:
        return rule.expect[persona]
    if persona == "outsider" and rule.record:
        return allow(404)
    if persona == "analyst" and method != "GET":
        return allow(403)
    return None


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_answer_each_persona_as_the_rules_say(world, persona, request):
    client = _client_for(persona, request)
    patterns = _web_patterns()
    failures = []
    for name, rule in sorted(
        WEB_RULES.items(), key=lambda item: ("delete" in item[0] or "erase" in item[0], item[0])
    ):
        url = _web_fill(patterns[name], rule, world)
        method = "GET"
        response = client.get(url)
        if response.status_code == 405:
            method = "POST"
            response = client.post(url, rule.data or {})
        if persona == "anonymous":
            location = response.get("Location", "")
            if response.status_code not in (301, 302, 303) or not location.startswith("/login/"):
                failures.append(f"{name} {method} {url} as anonymous: {response.status_code} {location}")
            continue
        expected = _web_expected(persona, method, rule)
        if not _check(response.status_code, expected, persona):
            failures.append(
                f"{name} {method} {url} as {persona}: {response.status_code} (want {expected or 'no 4xx'})"
            )
        if rule.shows and response.status_code == 200 and persona in ("outsider", "rep"):
            shown = MARK in response.content.decode(errors="replace")
            if shown != (persona == "rep"):
                failures.append(f"{name} as {persona}: rep's {rule.shows} shown={shown}")
    assert not failures, "\n".join(failures)


def test_an_analyst_reads_forecasts_but_submits_no_call(analyst, rep):
    """Found by the matrix: POST /api/v1/forecast/calls answered 201 to a read-only analyst."""
    from dealflow.core.errors import PermissionDeniedError
    from dealflow.forecasting.models import ForecastCall
    from dealflow.forecasting.services import call_submit

    with pytest.raises(PermissionDeniedError):
        call_submit(by=analyst, period="2026-11", commit="1", best_case="2")
    call_submit(by=rep, period="2026-11", commit="1", best_case="2")
    assert list(ForecastCall.objects.values_list("user__username", flat=True)) == ["rep"]
