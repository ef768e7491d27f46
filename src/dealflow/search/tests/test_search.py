"""The global search: kept current by the services, prefix and accent-blind on both engines, and only
over what the user may see (rep, manager, outsider, analyst)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.urls import reverse

from dealflow.contacts.services import organization_create, organization_update, person_create
from dealflow.deals.services import activity_create, deal_create, deal_update, lead_create
from dealflow.deals.tests.factories import lead_source
from dealflow.directory.services import search_rebuild
from dealflow.search.models import SearchEntry
from dealflow.search.selectors import search_for_user, search_words
from dealflow.search.services import SearchDocument, search_index_add_many
from dealflow.search.text import text_words

pytestmark = pytest.mark.django_db


def _found(user, query, **options):
    return [(entry.kind, entry.title) for entry in search_for_user(user=user, query=query, **options)]


@pytest.fixture
def records(rep, outsider, pipeline):
    cafe = organization_create(name="Café Zürich B.V.", country="NL", owner=rep)
    jan = person_create(
        first_name="Jan", last_name="Müller", email="jan@cafe.nl", organization=cafe, owner=rep
    )
    deal = deal_create(title="Espresso machines", owner=rep, by=rep, organization=cafe, person=jan)
    lead = lead_create(
        title="Second espresso bar", source=lead_source("website"), owner=rep, organization=cafe
    )
    call = activity_create(owner=rep, by=rep, deal=deal, kind="call", subject="Call about grinders")
    shared = organization_create(name="Zürich Insurance")  # the company's, everybody sees it
    foreign = deal_create(title="Zürich espresso for Globex", owner=outsider, by=outsider)
    return {
        "cafe": cafe,
        "jan": jan,
        "deal": deal,
        "lead": lead,
        "call": call,
        "shared": shared,
        "foreign": foreign,
    }


def test_words_lose_case_accents_and_punctuation():
    assert search_words("Café  Zürich B.V.") == ["cafe", "zurich", "bv"]  # letters written together: one word
    assert search_words("j a smith") == ["j", "a", "smith"]  # letters typed apart stay letters
    assert search_words("  ") == []


def test_index_words_on_the_fast_and_the_unicode_path():
    # ASCII texts take a shorter path (one lower() for the text, no joining without single letters);
    # the words are the same as the Unicode path's, worked out by hand.
    assert text_words("Acme B.V.") == ["acme", "b", "v", "bv"]
    assert text_words("J A Smith en X Y") == ["j", "a", "smith", "en", "x", "y", "ja", "xy"]  # two runs
    assert text_words("STRASSE Straße İstanbul") == ["strasse", "strasse", "istanbul"]
    assert text_words("Customer 748") == ["customer", "748"]
    assert text_words("a") == ["a"]
    assert text_words("") == []
    assert text_words("Ünited A.B. Co") == [*text_words("United A.B. Co")]  # accents stripped, same words


def test_every_kind_is_found_by_word_prefixes_whatever_the_accents(rep, records):
    # Newest first, unless the title starts with the first word typed.
    assert _found(rep, "zur") == [
        ("organization", "Zürich Insurance"),
        ("lead", "Second espresso bar"),
        ("deal", "Espresso machines"),
        ("person", "Jan Müller"),
        ("organization", "Café Zürich B.V."),
    ]
    assert _found(rep, "espresso") == [
        ("deal", "Espresso machines"),
        ("lead", "Second espresso bar"),
    ]
    assert _found(rep, "muller jan") == [("deal", "Espresso machines"), ("person", "Jan Müller")]
    assert _found(rep, "jan mul") == [("person", "Jan Müller"), ("deal", "Espresso machines")]
    assert _found(rep, "grind") == [("activity", "Call about grinders")]
    assert _found(rep, "cafe bv", kinds=["organization"]) == [("organization", "Café Zürich B.V.")]
    assert _found(rep, "cafe b.v.", kinds=["organization"]) == [("organization", "Café Zürich B.V.")]
    assert _found(rep, "cafe gmbh") == []
    assert _found(rep, "") == []


def test_only_what_the_user_may_see_is_found(rep, manager, outsider, analyst, records):
    assert ("deal", "Zürich espresso for Globex") not in _found(rep, "zurich")
    assert _found(outsider, "zurich") == [
        ("deal", "Zürich espresso for Globex"),
        ("organization", "Zürich Insurance"),
    ]
    assert ("deal", "Espresso machines") in _found(manager, "espresso")  # rep's manager
    assert len(_found(analyst, "espresso")) == 3  # an analyst reads everything


def test_the_services_keep_the_index_current(rep, records):
    organization_update(organization=records["cafe"], data={"name": "Kaffee Haus"}, by=rep)
    deal_update(deal=records["deal"], by=rep, data={"title": "Cold brew line"})
    assert _found(rep, "kaffee", kinds=["organization"]) == [("organization", "Kaffee Haus")]
    assert _found(rep, "cold brew") == [("deal", "Cold brew line")]
    assert _found(rep, "machines") == []
    assert SearchEntry.objects.filter(kind="deal", object_id=records["deal"].pk).count() == 1


def test_a_rebuild_writes_what_the_services_wrote(records):
    written = sorted(
        SearchEntry.objects.values_list("kind", "object_id", "owner_id", "title", "subtitle", "text")
    )
    assert search_rebuild() == len(written) == 7
    rebuilt = sorted(
        SearchEntry.objects.values_list("kind", "object_id", "owner_id", "title", "subtitle", "text")
    )
    assert rebuilt == written
    assert [title for _kind, title in _found(records["deal"].owner, "grinders")] == ["Call about grinders"]


def test_a_bad_limit_or_kind_names_the_field(rep):
    from dealflow.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        search_for_user(user=rep, query="x", limit=0)
    assert error.value.field == "limit"
    with pytest.raises(ApplicationError) as error:
        search_for_user(user=rep, query="x", kinds=["planet"])
    assert error.value.field == "kind"


def test_the_search_page_the_dialog_and_the_api(client, rep, outsider, records):
    client.force_login(rep)
    partial = client.get(reverse("web:search"), {"q": "espr"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "Espresso machines" in html and "Globex" not in html and "<html" not in html
    page = client.get(reverse("web:search"), {"q": "espr"})
    assert page.status_code == 200 and "<html" in page.content.decode()
    opened = client.get(reverse("web:search_open", args=["deal", records["deal"].pk]))
    assert opened["Location"] == reverse("web:deal_detail", args=[records["deal"].pk])
    call = client.get(reverse("web:search_open", args=["activity", records["call"].pk]))
    assert call["Location"] == reverse("web:deal_detail", args=[records["deal"].pk])
    api = client.get("/api/v1/search", {"q": "zurich", "kind": "organization"})
    assert [item["title"] for item in api.json()] == ["Zürich Insurance", "Café Zürich B.V."]
    assert api.json()[1] == {
        "kind": "organization",
        "id": records["cafe"].pk,
        "title": "Café Zürich B.V.",
        "subtitle": "NL",
    }
    assert client.get("/api/v1/search", {"q": "x", "limit": 99}).json()["field"] == "limit"
    client.force_login(outsider)
    assert client.get(reverse("web:search_open", args=["deal", records["deal"].pk])).status_code == 404
    assert "Espresso machines" not in client.get(reverse("web:search"), {"q": "espr"}).content.decode()


def test_the_command_searches_as_a_user_and_rebuilds(rep, outsider, records):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("search", "espresso", user="rep", stdout=out)
    assert out.getvalue().splitlines() == [
        f"deal         {records['deal'].pk:>8}  Espresso machines  (Café Zürich B.V.)",
        f"lead         {records['lead'].pk:>8}  Second espresso bar  (Café Zürich B.V.)",
    ]
    out = StringIO()
    call_command("search", "espresso", user="outsider", kind="deal", stdout=out)
    assert "Globex" in out.getvalue() and "machines" not in out.getvalue()
    out = StringIO()
    call_command("search", rebuild=True, stdout=out)
    assert out.getvalue() == "Indexed 7 records.\n"


def test_one_letter_is_refused_with_a_message_on_every_front_door(client, rep, records):
    from io import StringIO

    from django.core.management import call_command

    from dealflow.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        search_for_user(user=rep, query="e")
    assert (error.value.field, error.value.message) == ("q", "Type at least 2 letters or digits to search.")
    with pytest.raises(ApplicationError):
        search_for_user(user=rep, query="e s")  # no word of two characters
    assert _found(rep, "es") == [("deal", "Espresso machines"), ("lead", "Second espresso bar")]
    assert _found(rep, "espresso s") == [("lead", "Second espresso bar")]  # one letter beside a longer word
    client.force_login(rep)
    api = client.get("/api/v1/search", {"q": "e"})
    assert api.status_code == 400 and api.json()["field"] == "q"
    html = client.get(reverse("web:search"), {"q": "e"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Type at least 2 letters or digits to search." in html and "Nothing found" not in html
    with pytest.raises(ApplicationError, match="at least 2"):
        call_command("search", "e", user="rep", stdout=StringIO())


def test_b_v_and_bv_find_each_other(rep):
    organization_create(name="Acme B.V.", owner=rep)
    organization_create(name="Acme BV", owner=rep)
    assert sorted(_found(rep, "acme b.v.")) == [("organization", "Acme B.V."), ("organization", "Acme BV")]
    assert sorted(_found(rep, "acme bv")) == [("organization", "Acme B.V."), ("organization", "Acme BV")]


def test_titles_starting_with_the_first_word_come_first_unless_that_word_is_common(rep, pipeline):
    from dealflow.search import selectors

    acme = organization_create(name="Acme Industrial", owner=rep)
    deal_create(title="Robots", owner=rep, by=rep, organization=acme)
    deal_create(title="Acme presses", owner=rep, by=rep)
    deal_create(title="Pumps", owner=rep, by=rep, organization=acme)
    assert _found(rep, "acme") == [
        ("deal", "Acme presses"),
        ("organization", "Acme Industrial"),
        ("deal", "Pumps"),  # then the newest first
        ("deal", "Robots"),
    ]
    assert _found(rep, "acme ind") == [
        ("organization", "Acme Industrial"),
        ("deal", "Pumps"),  # found by their organisation's name
        ("deal", "Robots"),
    ]
    selectors.TITLE_FIRST_CAP, cap = 1, selectors.TITLE_FIRST_CAP
    try:  # "acme" starts two titles, more than the cap: newest first only
        assert _found(rep, "acme")[:2] == [("deal", "Pumps"), ("deal", "Acme presses")]
    finally:
        selectors.TITLE_FIRST_CAP = cap


def test_a_change_moves_a_record_to_the_front_and_a_small_window_still_finds_everything(
    rep, admin_user, pipeline
):
    from dealflow.search import selectors

    first = deal_create(title="Alpha robots", owner=rep, by=rep)
    for number in range(5):
        deal_create(title=f"Other {number}", owner=rep, by=rep)
    deal_create(title="Beta robots", owner=rep, by=rep)
    assert _found(rep, "robots") == [("deal", "Beta robots"), ("deal", "Alpha robots")]
    deal_update(deal=first, by=rep, data={"title": "Alpha robots mk2"})
    assert _found(rep, "robots") == [("deal", "Alpha robots mk2"), ("deal", "Beta robots")]
    window, factor = selectors.RECENT_WINDOW, selectors.RESTRICTED_WINDOW_FACTOR
    selectors.RECENT_WINDOW, selectors.RESTRICTED_WINDOW_FACTOR = 2, 1
    try:  # PostgreSQL: the newest two entries hold one match; the GIN index finds the other
        for user in (rep, admin_user):  # the index asked with the engine's guess, and with a sub-select
            assert _found(user, "robots") == [("deal", "Alpha robots mk2"), ("deal", "Beta robots")]
            assert _found(user, "other", limit=3) == [
                ("deal", "Other 4"),
                ("deal", "Other 3"),
                ("deal", "Other 2"),
            ]
    finally:
        selectors.RECENT_WINDOW, selectors.RESTRICTED_WINDOW_FACTOR = window, factor


def test_a_bulk_add_in_batches_is_found_and_keeps_the_full_text_index_whole(rep, records):
    # search_index_add_many stages each SQLite batch and copies it with one INSERT ... SELECT (FTS5
    # flushes once per statement); the entries must be found exactly like the services' own.
    documents = [
        SearchDocument(
            kind="organization", object_id=10_000 + number, owner_id=None, title=f"Kaaskop {number} Zürich"
        )
        for number in range(23)
    ]
    assert search_index_add_many(documents=documents, batch_size=5) == 23  # five batches, the last short
    entries = list(SearchEntry.objects.filter(object_id__gte=10_000).order_by("id"))
    assert [entry.object_id for entry in entries] == [10_000 + number for number in range(23)]  # in order
    assert entries[0].text == "kaaskop 0 zurich"
    found = search_for_user(user=rep, query="kaask zur", limit=50)
    assert sorted(entry.object_id for entry in found) == [10_000 + number for number in range(23)]
    assert _found(rep, "kaaskop 17") == [("organization", "Kaaskop 17 Zürich")]
    assert _found(rep, "espresso machines") == [("deal", "Espresso machines")]  # the earlier entries too
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # raises if the full-text index and the table disagree
            cursor.execute(
                "INSERT INTO search_entry_fts(search_entry_fts, rank) VALUES ('integrity-check', 1)"
            )
    SearchEntry.objects.filter(
        object_id=10_005, kind="organization"
    ).delete()  # the delete trigger still works
    assert _found(rep, "kaaskop 5") == []


def _schema_of_entries() -> list[tuple[str, str]]:
    """The entries' indexes and (SQLite) triggers, by name and definition."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'search_searchentry' UNION ALL "
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = 'search_searchentry'::regclass AND NOT tgisinternal ORDER BY 1"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'search_searchentry' "
                "AND type IN ('index', 'trigger') ORDER BY name"
            )
        return [(name, definition or "") for name, definition in cursor.fetchall()]


def test_a_big_load_with_its_indexes_after_is_found_like_one_indexed_row_by_row(rep, records):
    # indexes_after (a big first import): the name and owner indexes (and PostgreSQL's full-text one) are
    # set aside and built after the rows, SQLite's full-text trigger too, and the new entries are added
    # to the full-text index in one statement; the earlier entries stay found, the later ones too.
    before = _schema_of_entries()
    assert any(name == "search_entry_name" for name, _sql in before)
    documents = [
        SearchDocument(kind="deal", object_id=20_000 + number, owner_id=rep.pk, title=f"Gouda {number} B.V.")
        for number in range(10, 22)
    ]
    assert search_index_add_many(documents=documents, batch_size=5, indexes_after=True) == 12
    assert _schema_of_entries() == before  # every index and trigger back, as it was
    assert _found(rep, "gouda 17") == [("deal", "Gouda 17 B.V.")]
    assert len(search_for_user(user=rep, query="gouda bv", limit=50)) == 12
    assert _found(rep, "espresso machines") == [("deal", "Espresso machines")]  # indexed before the load
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # raises if the full-text index and the table disagree
            cursor.execute(
                "INSERT INTO search_entry_fts(search_entry_fts, rank) VALUES ('integrity-check', 1)"
            )
    organization_create(name="Edammer Holding", country="NL", owner=rep)  # the trigger works again
    assert _found(rep, "edammer") == [("organization", "Edammer Holding")]
    SearchEntry.objects.filter(kind="deal", object_id=20_013).delete()
    assert _found(rep, "gouda 13") == []


def test_a_big_load_that_fails_leaves_the_index_as_it_was(rep, records):
    before = _schema_of_entries()
    count = SearchEntry.objects.count()

    def documents():
        yield SearchDocument(kind="deal", object_id=30_000, owner_id=rep.pk, title="Brie 1")
        raise RuntimeError("the load failed")

    with pytest.raises(RuntimeError, match="the load failed"):
        search_index_add_many(documents=documents(), batch_size=1, indexes_after=True)
    assert _schema_of_entries() == before
    assert SearchEntry.objects.count() == count
    assert _found(rep, "espresso machines") == [("deal", "Espresso machines")]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO search_entry_fts(search_entry_fts, rank) VALUES ('integrity-check', 1)"
            )


DIGITS_MIGRATION = importlib.import_module("dealflow.search.migrations.0004_digits_are_not_letters")


def test_a_digit_is_not_a_letter_of_a_joined_run(rep, pipeline):
    # "Studio 7 B.V." was indexed with "7bv" (the digit joined the letters), so "bv" did not find it.
    assert text_words("Studio 7 B.V.") == ["studio", "7", "b", "v", "bv"]
    assert text_words("A 1 B C") == ["a", "1", "b", "c", "bc"]
    assert text_words("Customer 12 B.V.") == ["customer", "12", "b", "v", "bv"]  # as before
    organization_create(name="Studio 7 B.V.", country="NL", owner=rep)
    assert _found(rep, "studio 7 bv") == [("organization", "Studio 7 B.V.")]
    assert _found(rep, "studio bv") == [("organization", "Studio 7 B.V.")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("studio 7 b v 7bv", "studio 7 b v bv"),
        ("a 1 b c a1bc", "a 1 b c bc"),
        ("7 8 78", "7 8"),
        ("garage 3 b v 3bv jan de vries", None),  # not what the old rule wrote: left alone
        ("customer 12 b v bv", None),  # the same under both rules
        ("j a smith ja", None),
        ("a b ab ab", None),  # the words "a b ab": their run "ab" follows them
    ],
)
def test_the_migration_rewrites_what_the_old_rule_wrote_differently(old, new):
    assert DIGITS_MIGRATION.rewritten(old) == new


def test_the_migration_makes_old_entries_findable(rep, records):
    from django.apps import apps

    studio = organization_create(name="Studio 7 B.V.", country="NL", owner=rep)
    SearchEntry.objects.filter(kind="organization", object_id=studio.pk).update(text="studio 7 b v 7bv")
    assert _found(rep, "studio bv") == []  # what an entry written before looked like
    DIGITS_MIGRATION.digits_are_not_letters(apps, None)
    assert SearchEntry.objects.get(kind="organization", object_id=studio.pk).text == "studio 7 b v bv"
    assert _found(rep, "studio bv") == [("organization", "Studio 7 B.V.")]
    assert _found(rep, "espresso machines") == [("deal", "Espresso machines")]  # others untouched
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO search_entry_fts(search_entry_fts, rank) VALUES ('integrity-check', 1)"
            )
