"""The Dutch catalogue is complete and its placeholders match, and the main pages render in Dutch."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from django.urls import reverse

from dealflow.core import clock
from dealflow.deals.tests.factories import DealFactory, LeadFactory

SRC = Path(__file__).resolve().parents[1] / "src/dealflow"
PO_PATH = SRC / "locale/nl/LC_MESSAGES/django.po"
# The main catalogue, plus one per app that keeps its own (src/dealflow/<app>/locale/nl/LC_MESSAGES/django.po):
# Django merges them at run time, the main one first.
PO_PATHS = sorted([PO_PATH, *SRC.glob("*/locale/nl/LC_MESSAGES/django.po")])
CATALOGUE_IDS = [str(path.relative_to(SRC)) for path in PO_PATHS]

# %(name)s / %(name).1f / %(name)+.1f / %s / %d / %r; "%%" is a literal percent sign and is left out.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]+)\))?[-+ #0]*(?:\d+|\*)?(?:\.\d+)?(?P<conv>[diouxXeEfFgGcrsa%])"
)


def _catalogue(path: Path = PO_PATH) -> polib.POFile:
    return polib.pofile(str(path))


def _placeholders(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for match in PLACEHOLDER.finditer(text):
        if match.group("conv") == "%":
            continue
        found[match.group(0)] += 1
    return found


def _pairs(entry: polib.POEntry) -> list[tuple[str, str]]:
    """(source, translation) pairs to compare: the singular and, for plurals, each plural form."""
    if not entry.msgid_plural:
        return [(entry.msgid, entry.msgstr)]
    forms = sorted(entry.msgstr_plural.items())
    return [(entry.msgid if index == 0 else entry.msgid_plural, text) for index, text in forms]


def _label(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt + ' | ' if entry.msgctxt else ''}{entry.msgid!r}"


@pytest.mark.parametrize("path", PO_PATHS, ids=CATALOGUE_IDS)
def test_the_catalogue_is_for_dutch_with_two_plural_forms(path):
    catalogue = _catalogue(path)
    assert catalogue.metadata["Language"] == "nl"
    assert catalogue.metadata["Plural-Forms"].startswith("nplurals=2; plural=(n != 1);")
    if path == PO_PATH:
        assert len(catalogue) > 1000  # the whole product, not a handful of strings


def test_no_message_is_translated_twice_differently():
    seen: dict[tuple[str | None, str], tuple[str, object]] = {}
    clashes = []
    for path in PO_PATHS:
        for entry in _catalogue(path).translated_entries():
            key = (entry.msgctxt, entry.msgid)
            text = entry.msgstr or dict(entry.msgstr_plural)
            if key in seen and seen[key][1] != text:
                clashes.append((_label(entry), seen[key][0], str(path.relative_to(SRC))))
            seen.setdefault(key, (str(path.relative_to(SRC)), text))
    assert clashes == []


@pytest.mark.parametrize("path", PO_PATHS, ids=CATALOGUE_IDS)
def test_every_entry_is_translated_and_none_is_fuzzy(path):
    catalogue = _catalogue(path)
    untranslated = [_label(e) for e in catalogue.untranslated_entries() if not e.obsolete]
    fuzzy = [_label(e) for e in catalogue.fuzzy_entries() if not e.obsolete]
    empty_forms = [
        _label(e)
        for e in catalogue
        if e.msgid_plural and not e.obsolete and not all(e.msgstr_plural.values())
    ]
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:20]}"
    assert empty_forms == []


@pytest.mark.parametrize("path", PO_PATHS, ids=CATALOGUE_IDS)
def test_python_format_placeholders_match_between_msgid_and_msgstr(path):
    mismatches = []
    for entry in _catalogue(path):
        if entry.obsolete or "python-format" not in entry.flags:
            continue
        for index, (source, translation) in enumerate(_pairs(entry)):
            wanted, got = set(_placeholders(source)), set(_placeholders(translation))
            # A singular form may leave the count out ("once" for "%(count)d time"); nothing else may differ.
            if (
                entry.msgid_plural
                and index == 0
                and got <= wanted
                and wanted - got <= {p for p in wanted if "count" in p or "counter" in p}
            ):
                continue
            if wanted != got:
                mismatches.append((_label(entry), sorted(wanted), sorted(got)))
    assert mismatches == []


@pytest.mark.parametrize("path", PO_PATHS, ids=CATALOGUE_IDS)
def test_literal_percent_signs_are_doubled_in_python_format_entries(path):
    bad = []
    for entry in _catalogue(path):
        if entry.obsolete or "python-format" not in entry.flags:
            continue
        for _, translation in _pairs(entry):
            stripped = PLACEHOLDER.sub("", translation)
            if "%" in stripped:
                bad.append((_label(entry), translation))
    assert bad == []


@pytest.mark.parametrize("path", PO_PATHS, ids=CATALOGUE_IDS)
def test_the_compiled_catalogue_is_committed_and_not_older_than_the_po_file(path):
    mo_path = path.with_suffix(".mo")
    assert mo_path.exists()

    def texts(entries):
        return {(e.msgctxt, e.msgid): e.msgstr or dict(e.msgstr_plural) for e in entries if e.msgid}

    # Run `msgfmt --check -o django.mo django.po` (or compilemessages) after editing the .po file.
    assert texts(polib.mofile(str(mo_path))) == texts(_catalogue(path).translated_entries())


@pytest.fixture
def dutch_rep(rep):
    rep.language = "nl"
    rep.save(update_fields=["language"])
    return rep


@pytest.fixture
def dutch_manager(manager):
    manager.language = "nl"
    manager.save(update_fields=["language"])
    return manager


def _dutch_page(client, user, url_name: str) -> str:
    client.force_login(user)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert response["Content-Language"] == "nl"
    html = response.content.decode()
    assert '<html lang="nl"' in html
    assert "Afmelden" in html and "Sign out" not in html
    return html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "words"),
    [
        ("web:home", ["Bord", "Deals per fase", "Verplaatsen naar…"]),
        ("web:deal_list", ["Deals filteren", "Verwachte sluiting", "Eigenaar"]),
    ],
)
def test_deal_pages_speak_dutch_and_show_dutch_amounts(client, dutch_rep, url_name, words):
    DealFactory(owner=dutch_rep, title="Jansen B.V. licenties", amount=Decimal("1234.56"))
    html = _dutch_page(client, dutch_rep, url_name)
    for word in words:
        assert word in html
    assert "Jansen B.V. licenties" in html
    assert "€\xa01.234,56" in html or "€ 1.234,56" in html


@pytest.mark.django_db
def test_the_leads_inbox_speaks_dutch(client, dutch_rep):
    LeadFactory(owner=dutch_rep, title="Beurscontact Utrecht")
    html = _dutch_page(client, dutch_rep, "web:lead_inbox")
    assert "Leadinbox" in html and "Nieuwe lead" in html
    assert "Beurscontact Utrecht" in html


@pytest.mark.django_db
def test_team_pulse_speaks_dutch(client, dutch_manager):
    html = _dutch_page(client, dutch_manager, "web:people_home")
    assert "Teampuls" in html and "Enquêtes" in html and "Eén-op-ééns" in html


@pytest.mark.django_db
def test_the_forecast_speaks_dutch_with_dutch_amounts(client, dutch_manager, rep):
    DealFactory(owner=rep, amount=Decimal("1234.56"), expected_close_on=clock.today())
    html = _dutch_page(client, dutch_manager, "web:forecast")
    assert "Prognose (gemiddelde)" in html and "Tot nu toe gesloten" in html and "Jouw inschatting" in html
    # The forecast shows whole amounts in the base currency: the pipeline row holds 1.235 (1,234.56 rounded half up, Dutch thousands).
    assert '<td class="num">1.235</td>' in html


@pytest.mark.django_db
def test_the_dashboard_speaks_dutch(client, dutch_manager):
    html = _dutch_page(client, dutch_manager, "web:dashboard")
    assert "Winratio" in html and "Verkoopcyclus" in html and "Gemiddelde dealgrootte" in html
    assert "Stilliggende en verschoven deals" in html  # the link shown until they are loaded
    response = client.get(reverse("web:dashboard_attention"))  # a partial: no <html>, no menu
    assert response.status_code == 200 and response["Content-Language"] == "nl"
    attention = response.content.decode()
    assert "Stilliggende deals" in attention and "Verschoven deals" in attention and "Stale" not in attention
