"""Smaller fidelity rules: title templates, currency signs and the chosen currency, country names, headers
in other languages."""

from __future__ import annotations

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal
from dealflow.importers.countries import country_code
from dealflow.importers.fields import Entity, guess_columns
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_preview

pytestmark = pytest.mark.django_db


def _csv(tmp_path, text: str, name: str = "deals.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_title_template_and_a_blank_title_is_a_row_problem(tmp_path, admin_user, rep):
    path = _csv(
        tmp_path,
        "Organization,Product,Amount,Created\nAcme,Licences,100,2026-01-05\nBeta,,200,2026-01-06\n,,300,2026-01-07\n",
    )
    with pytest.raises(ApplicationError, match="give a title template"):
        import_preview(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))

    options = {"entity": "deals", "title_template": "{organization} - {product}"}
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json(options))
    [problem] = plan.problems.errors
    assert (problem.line, problem.column) == (4, "title")
    assert "gives an empty title" in problem.reason

    import_apply(path=path, by=admin_user, options=ImportOptions.from_json({**options, "keep_valid": True}))
    assert sorted(Deal.objects.values_list("title", flat=True)) == ["Acme - Licences", "Beta"]
    with pytest.raises(ApplicationError, match="title template"):
        ImportOptions.from_json({"title_template": "{organization"})


def test_currency_signs_and_a_mismatch_with_the_chosen_currency(tmp_path, admin_user, rep, rate_usd):
    path = _csv(
        tmp_path, "Title,Amount,Created\nA,US$ 1200,2026-01-05\nB,€ 300,2026-01-06\nC,£ 50,2026-01-07\n"
    )

    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert [row.get("amount_currency") for row in plan.sheets[0].rows] == ["USD", "EUR", "GBP"]

    chosen = import_preview(
        path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals", "currency": "EUR"})
    )
    mismatched = {problem.line: problem.reason for problem in chosen.problems.errors}
    assert set(mismatched) == {2, 4}
    assert mismatched[2] == "The amount is in USD but the import's currency is EUR."


def test_no_currency_column_states_the_base_currency(tmp_path, admin_user, rep):
    path = _csv(tmp_path, "Title,Amount,Created\nA,1200,2026-01-05\n")
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert "deals.csv has no currency column: its amounts are in EUR (the base currency)." in plan.notices


def test_country_names_in_every_language():
    names = ["United States", "Verenigde Staten", "Vereinigte Staaten", "États-Unis", "Estados Unidos", "US"]
    assert {country_code(name) for name in names} == {"US"}
    assert [country_code(name) for name in ("Nederland", "Duitsland", "België", "UK", "nl")] == [
        "NL",
        "DE",
        "BE",
        "GB",
        "NL",
    ]
    assert country_code("Atlantis") is None and country_code("XX") is None


def test_header_words_in_five_languages():
    for headers in (
        ["Title", "Amount", "Stage", "Close date", "Owner"],
        ["Titel", "Bedrag", "Fase", "Sluitingsdatum", "Eigenaar"],
        ["Bezeichnung", "Betrag", "Stufe", "Abschlussdatum", "Besitzer"],
        ["Titre", "Montant", "Étape", "Date de clôture", "Propriétaire"],
        ["Título", "Importe", "Etapa", "Fecha de cierre", "Propietario"],
        ["Title", "BEDRAG (EUR)", "Stage", "Close date", "Owner"],
    ):
        assert list(guess_columns(Entity.DEALS, headers).values()) == [
            "title",
            "amount",
            "stage",
            "expected_close_on",
            "owner",
        ], headers


def test_users_sheet_creates_accounts_teams_and_roles(tmp_path, admin_user, manager, team):
    from io import StringIO

    from django.core.management import call_command

    from dealflow.accounts.models import Membership, User

    path = _csv(
        tmp_path,
        "Name,E-mail,Team,Role\nJan Jansen,jan@example.com,Benelux,rep\nEva Smit,eva@example.com,DACH,manager\n"
        "Mona Manager,manager@example.com,Benelux,manager\nBob,bob@example.com,DACH,boss\n",
        name="users.csv",
    )
    with pytest.raises(ApplicationError, match="1 problem"):
        call_command("import", str(path), "--user", "admin", stdout=StringIO())
    out = StringIO()
    call_command("import", str(path), "--user", "admin", "--keep-valid", stdout=out)

    jan = User.objects.get(email="jan@example.com")
    assert (jan.username, jan.first_name, jan.last_name, jan.has_usable_password()) == (
        "jan",
        "Jan",
        "Jansen",
        False,
    )
    roles = {
        (row.user.email, row.team.name): row.role for row in Membership.objects.select_related("user", "team")
    }
    assert roles[("jan@example.com", "Benelux")] == "rep"
    assert roles[("eva@example.com", "DACH")] == "manager"
    assert roles[("manager@example.com", "Benelux")] == "manager"  # Mona existed already: unchanged
    assert not User.objects.filter(email="bob@example.com").exists()  # "boss" is no role: a row problem
    assert "Created: 2 users" in out.getvalue()

    plan, result = import_apply(
        path=path, by=admin_user, options=ImportOptions.from_json({"keep_valid": True})
    )
    assert result.created == {} and result.updated == {}  # a second import changes nothing
    assert plan.counts["users"].skip == 3

    deals = _csv(tmp_path, "Title,Amount,Owner,Created\nA,100,Jan Jansen,2026-01-05\n")
    import_apply(path=deals, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert Deal.objects.get(title="A").owner == jan

    with pytest.raises(ApplicationError, match="problem"):
        import_apply(path=path, by=manager)  # only admins create accounts


def test_product_column_becomes_the_deals_line_item(tmp_path, admin_user, rep):
    from dealflow.deals.models import DealEvent
    from dealflow.products.models import DealLine, Product
    from dealflow.products.tests.factories import ProductFactory

    ProductFactory(name="Licences", code="LIC")
    path = _csv(
        tmp_path,
        "Id,Title,Amount,Product,Created\n1,A,1000,Licences,2026-01-05\n2,B,250,Support hours,2026-01-06\n3,C,90,lic,2026-01-07\n",
    )
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert [(question.kind, question.key, question.default) for question in plan.questions] == [
        ("products", "Support hours", "create")
    ]

    import_apply(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))

    lines = {
        line.deal.title: (line.product.code, line.deal_value_minor)
        for line in DealLine.objects.select_related("deal", "product")
    }
    assert lines == {"A": ("LIC", 100_000), "B": ("support-hours", 25_000), "C": ("LIC", 9_000)}
    assert dict(Deal.objects.values_list("title", "amount_minor")) == {"A": 100_000, "B": 25_000, "C": 9_000}
    assert Product.objects.get(code="support-hours").name == "Support hours"

    events = DealEvent.objects.count()
    _plan, result = import_apply(
        path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"})
    )
    assert result.created == {} and result.updated == {} and DealEvent.objects.count() == events
