"""Demo data for what deals hold: a product catalogue, custom fields, tags, line items and quotes.

Everything goes through the services, so each write has its events like a real one. Lines are priced so
that their total equals the amount the deal already has (a recurring line only where the amount splits
into whole cents a month): the demo's history, metrics and forecasts stay exactly as generated. The
content events are dated at the deal's creation; quotes are made today, sent without e-mail, and those of
won deals accepted (the demo's quote rule leaves the deal where it is).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.services import (
    contact_tags_set,
    organization_custom_values_set,
    person_custom_values_set,
)
from dealflow.core.money import from_minor
from dealflow.customfields.services import custom_field_create
from dealflow.deals.models import Deal, DealStatus, Lead, Pipeline
from dealflow.deals.services import (
    deal_custom_values_set,
    deal_lines_set,
    deal_tags_set,
    lead_custom_values_set,
)
from dealflow.products.models import Product
from dealflow.products.services import product_create
from dealflow.quotes.services import quote_create, quote_mark_accepted, quote_rule_set, quote_send

DEALS = 240  # the most recent deals get lines, fields and tags
QUOTED = 60
PRODUCTS = [
    # name, code, prices, unit, tax, billing, term
    ("CRM seat", "SEAT", {"EUR": "49.00", "USD": "55.00", "GBP": "42.00"}, "seat", "21", "monthly", 12),
    ("Analytics add-on", "ANALYTICS", {"EUR": "1200.00", "USD": "1350.00"}, "licence", "21", "yearly", 12),
    ("Onboarding", "ONBOARD", {"EUR": "1500.00", "USD": "1700.00"}, "package", "21", "one_off", None),
    ("Data migration", "MIGRATE", {"EUR": "950.00"}, "project", "21", "one_off", None),
    ("Training day", "TRAIN", {"EUR": "800.00", "GBP": "700.00"}, "day", "9", "one_off", None),
]
DEAL_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("tier", "Customer tier", "choice", {"choices": ["Enterprise", "Mid-market", "SMB"]}),
    ("seats", "Seats", "number", {}),
    ("go_live", "Go-live date", "date", {}),
    ("modules", "Modules", "multi_choice", {"choices": ["CRM", "Analytics", "Quotes", "API"]}),
    ("budget", "Approved budget", "money", {"currency": "EUR"}),
    ("nda_signed", "NDA signed", "checkbox", {}),
    ("tender_url", "Tender page", "url", {}),
    ("champion_email", "Champion's e-mail", "email", {}),
    ("competitor", "Main competitor", "text", {}),
    ("notes", "Deal notes", "long_text", {}),
]
TAGS = ["strategic", "renewal-risk", "partner-led", "q4-push", "reference"]
COMPETITORS = ["Pipedrive", "HubSpot", "Salesforce", "Zoho", ""]


def _catalogue() -> dict[str, Product]:
    products = {}
    for name, code, prices, unit, tax, billing, term in PRODUCTS:
        product = Product.objects.filter(code=code).first() or product_create(
            name=name, code=code, prices=prices, unit=unit, tax_rate=tax, billing=billing, term_months=term
        )
        products[code] = product
    return products


def _fields() -> None:
    for key, label, kind, extra in DEAL_FIELDS:
        custom_field_create(entity="deal", key=key, label=label, kind=kind, **extra)
    custom_field_create(entity="organization", key="vat_number", label="VAT number", kind="text")
    custom_field_create(
        entity="organization",
        key="segment",
        label="Segment",
        kind="choice",
        choices=["Retail", "Industry", "Public"],
    )
    custom_field_create(entity="person", key="linkedin", label="LinkedIn", kind="url")
    custom_field_create(entity="lead", key="campaign", label="Campaign", kind="text")
    renewals = Pipeline.objects.filter(is_active=True).exclude(is_default=True).order_by("pk").first()
    if renewals is not None:
        custom_field_create(
            entity="deal", key="contract_no", label="Contract number", kind="text", pipeline=renewals
        )


def _lines_for(deal: Deal, products: dict[str, Product], rng: random.Random) -> list[dict[str, Any]]:
    """Lines whose total is the deal's amount: a recurring seat line when it splits evenly, else one-off."""
    amount = deal.amount_minor
    if amount <= 0:
        return []
    if deal.currency == "EUR" and amount % 1200 == 0 and rng.random() < 0.6:
        # 12 months of seats: amount = seats x monthly price x 12; price the seat so it comes out exactly.
        monthly = amount // 12
        seats = next((count for count in (25, 20, 10, 5, 4, 2) if monthly % count == 0), 1)
        return [
            {
                "product": products["SEAT"],
                "quantity": seats,
                "unit_price": from_minor(monthly // seats, "EUR"),
                "billing": "monthly",
                "term_months": 12,
            }
        ]
    onboarding = products["ONBOARD"]
    share = amount // 5 if rng.random() < 0.5 and amount >= 500_00 else 0
    lines = (
        [{"product": products["MIGRATE"], "quantity": 1, "unit_price": from_minor(share, deal.currency)}]
        if share
        else []
    )
    lines.append(
        {
            "product": onboarding,
            "description": f"{onboarding.name} and rollout",
            "quantity": 1,
            "unit_price": from_minor(amount - share, deal.currency),
            "currency": deal.currency,
        }
    )
    for line in lines:
        line.setdefault("currency", deal.currency)
    return lines


def _deal_values(deal: Deal, rng: random.Random) -> dict[str, Any]:
    return {
        "tier": rng.choice(["Enterprise", "Mid-market", "SMB"]),
        "seats": rng.choice([5, 10, 25, 50, 120]),
        "go_live": (deal.created_on + dt.timedelta(days=rng.randint(30, 180))).isoformat(),
        "modules": rng.sample(["CRM", "Analytics", "Quotes", "API"], k=rng.randint(1, 3)),
        "budget": str(from_minor(deal.amount_minor, deal.currency)) if deal.currency == "EUR" else None,
        "nda_signed": rng.random() < 0.5,
        "tender_url": "https://tenders.example.com/" + str(deal.pk) if rng.random() < 0.2 else None,
        "champion_email": f"champion{deal.pk}@example.com" if rng.random() < 0.4 else None,
        "competitor": rng.choice(COMPETITORS) or None,
        "notes": "Budget approved by the CFO.\nLegal review booked." if rng.random() < 0.2 else None,
    }


@transaction.atomic
def seed(*, seed: int, today: dt.date, stdout: Any = None) -> None:
    """Load the catalogue, custom fields, tags, and lines, values and quotes on the most recent deals."""
    if Product.objects.exists():
        return  # loaded already (the demo is additive only into a database without it)
    rng = random.Random(seed * 3_571 + 16)
    products = _catalogue()
    _fields()
    actor = User.objects.filter(is_superuser=True).order_by("pk").first()
    default = Pipeline.objects.filter(is_default=True).first()
    if default is not None:
        quote_rule_set(pipeline=default, by=actor)
    deals = list(
        Deal.objects.select_related("pipeline", "organization", "person").order_by("-created_at", "-id")[
            :DEALS
        ]
    )
    lined = quoted = 0
    for deal in deals:
        at = deal.created_at
        lines = _lines_for(deal, products, rng)
        if lines:
            deal_lines_set(deal=deal, lines=lines, by=deal.owner, at=at, origin="demo")
            lined += 1
        deal_custom_values_set(
            deal=deal,
            values=_deal_values(deal, rng),
            by=deal.owner,
            at=at,
            origin="demo",
            check_required=False,
        )
        deal_tags_set(
            deal=deal, tags=rng.sample(TAGS, k=rng.randint(0, 2)), by=deal.owner, at=at, origin="demo"
        )
        if lines and quoted < QUOTED and deal.currency == "EUR" and deal.status != DealStatus.LOST:
            quote = quote_create(deal=deal, by=deal.owner, language=rng.choice(["en", "nl"]), origin="demo")
            quote_send(quote=quote, by=deal.owner, send_email=False, origin="demo")
            if deal.status == DealStatus.WON:
                quote_mark_accepted(quote=quote, by=deal.owner, origin="demo")
            quoted += 1
    for organization in Organization.objects.order_by("pk")[:DEALS]:
        organization_custom_values_set(
            organization=organization,
            values={
                "vat_number": f"NL{organization.pk:09d}B01",
                "segment": rng.choice(["Retail", "Industry", "Public"]),
            },
        )
        contact_tags_set(contact=organization, tags=rng.sample(TAGS, k=rng.randint(0, 2)))
    for person in Person.objects.order_by("pk")[:DEALS]:
        person_custom_values_set(
            person=person, values={"linkedin": f"https://www.linkedin.com/in/person-{person.pk}"}
        )
        contact_tags_set(contact=person, tags=rng.sample(TAGS, k=rng.randint(0, 1)))
    for lead in Lead.objects.order_by("-pk")[:DEALS]:
        lead_custom_values_set(
            lead=lead, values={"campaign": rng.choice(["Spring webinar", "Trade fair", "Newsletter"])}
        )
    if stdout is not None:
        stdout.write(
            f"Products: {len(products)} in the catalogue, {lined} deals with line items, {quoted} quotes; "
            f"{len(DEAL_FIELDS)} deal custom fields filled on {len(deals)} deals.\n"
        )


__all__ = ["seed"]
