"""Exports of other CRMs, recognised by their headers: Salesforce, Pipedrive and HubSpot.

A preset names the source system (so re-importing matches records by that system's ids) and maps each
of its sheets' columns exactly; columns a preset does not name are still matched loosely.
"""

from __future__ import annotations

from dataclasses import dataclass

from dealflow.importers.fields import Entity
from dealflow.importers.values import normalize_header


@dataclass(frozen=True)
class PresetSheet:
    preset: str
    entity: Entity
    signature: frozenset[str]  # normalized headers that must all be present
    columns: dict[str, str]  # header (as the export writes it) -> field
    forbidden: frozenset[str] = frozenset()  # normalized headers that must be absent


def _sheet(
    preset: str, entity: Entity, signature: list[str], columns: dict[str, str], forbidden=()
) -> PresetSheet:
    return PresetSheet(
        preset,
        entity,
        frozenset(normalize_header(header) for header in signature),
        columns,
        frozenset(normalize_header(header) for header in forbidden),
    )


PRESET_LABELS = {"salesforce": "Salesforce", "pipedrive": "Pipedrive", "hubspot": "HubSpot"}

# Most specific first: the first sheet whose signature matches wins.
PRESET_SHEETS = [
    _sheet(
        "salesforce",
        Entity.HISTORY,
        ["OpportunityId", "CreatedDate", "StageName"],
        {
            "OpportunityId": "deal_id",
            "CreatedDate": "occurred_at",
            "StageName": "stage",
            "Amount": "amount",
            "CloseDate": "expected_close_on",
            "Probability": "probability",
            "CurrencyIsoCode": "currency",
        },
    ),
    _sheet(
        "salesforce",
        Entity.DEALS,
        ["Id", "Name", "StageName", "CloseDate"],
        {
            "Id": "external_id",
            "AccountId": "organization_id",
            "Name": "title",
            "StageName": "stage",
            "Amount": "amount",
            "Probability": "probability",
            "CloseDate": "expected_close_on",
            "IsClosed": "is_closed",
            "IsWon": "is_won",
            "ForecastCategory": "forecast_category",
            "ForecastCategoryName": "forecast_category",
            "OwnerId": "owner",
            "CreatedDate": "created_at",
            "LeadSource": "source",
            "CurrencyIsoCode": "currency",
            "NextStep": "next_step",
            "Loss_Reason__c": "lost_reason",
        },
    ),
    _sheet(
        "salesforce",
        Entity.LEADS,
        ["Id", "LastName", "Company", "Status"],
        {
            "Id": "external_id",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Company": "organization",
            "Email": "email",
            "Phone": "phone",
            "Status": "status",
            "LeadSource": "source",
            "OwnerId": "owner",
            "CreatedDate": "created_at",
            "IsConverted": "is_converted",
            "ConvertedOpportunityId": "converted_deal_id",
            "ConvertedAccountId": "organization_id",
        },
    ),
    _sheet(
        "salesforce",
        Entity.PERSONS,
        ["Id", "AccountId", "LastName"],
        {
            "Id": "external_id",
            "AccountId": "organization_id",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Email": "email",
            "Phone": "phone",
            "MobilePhone": "phone",
            "Title": "job_title",
            "OwnerId": "owner",
        },
    ),
    _sheet(
        "salesforce",
        Entity.USERS,
        ["Id", "Username"],
        {
            "Id": "external_id",
            "Username": "username",
            "Name": "full_name",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Email": "email",
        },
    ),
    _sheet(
        "salesforce",
        Entity.ACTIVITIES,
        ["Id", "Subject", "WhatId"],
        {
            "Id": "external_id",
            "Subject": "subject",
            "ActivityDate": "due_at",
            "IsClosed": "is_done",
            "WhatId": "deal_id",
            "OwnerId": "owner",
            "Description": "notes",
            "TaskSubtype": "kind",
        },
    ),
    _sheet(
        "salesforce",
        Entity.ORGANIZATIONS,
        ["Id", "Name", "OwnerId"],
        {
            "Id": "external_id",
            "Name": "name",
            "Website": "website",
            "Industry": "industry",
            "BillingCountry": "country",
            "OwnerId": "owner",
        },
        forbidden=["StageName", "LastName", "Username", "Subject"],
    ),
    _sheet(
        "pipedrive",
        Entity.DEALS,
        ["Deal - Title", "Deal - Stage"],
        {
            "Deal - ID": "external_id",
            "Deal - Title": "title",
            "Deal - Value": "amount",
            "Deal - Currency": "currency",
            "Deal - Pipeline": "pipeline",
            "Deal - Stage": "stage",
            "Deal - Status": "status",
            "Deal - Owner": "owner",
            "Deal - Organization": "organization",
            "Deal - Contact person": "person",
            "Deal - Deal created": "created_at",
            "Deal - Expected close date": "expected_close_on",
            "Deal - Won time": "won_at",
            "Deal - Lost time": "lost_at",
            "Deal - Lost reason": "lost_reason",
            "Deal - Probability": "probability",
            "Deal - Source": "source",
        },
    ),
    _sheet(
        "hubspot",
        Entity.DEALS,
        ["Record ID", "Deal Name", "Deal Stage"],
        {
            "Record ID": "external_id",
            "Deal Name": "title",
            "Deal Stage": "stage",
            "Pipeline": "pipeline",
            "Amount": "amount",
            "Close Date": "expected_close_on",
            "Create Date": "created_at",
            "Deal owner": "owner",
            "Closed Lost Reason": "lost_reason",
            "Is Closed Won": "is_won",
            "Is Deal Closed?": "is_closed",
            "Currency": "currency",
            "Deal probability": "probability",
            "Associated Company": "organization",
            "Forecast category": "forecast_category",
        },
    ),
]

PRESETS = sorted(PRESET_LABELS)


def preset_detect(headers: list[str], *, preset: str | None = None) -> PresetSheet | None:
    """The preset sheet these headers come from (only among ``preset``'s sheets when one is named)."""
    present = {normalize_header(header) for header in headers}
    for sheet in PRESET_SHEETS:
        if preset and sheet.preset != preset:
            continue
        if sheet.signature <= present and not (sheet.forbidden & present):
            return sheet
    return None


def preset_columns(sheet: PresetSheet, headers: list[str]) -> dict[str, str]:
    """The preset's column map applied to the headers as they appear in the file (matched loosely)."""
    wanted = {normalize_header(header): field for header, field in sheet.columns.items()}
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field = wanted.get(normalize_header(header))
        if field and field not in taken:
            columns[header] = field
            taken.add(field)
    return columns
