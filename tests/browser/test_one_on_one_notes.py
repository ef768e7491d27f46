"""One-on-one notes in a real browser: nothing a person typed is lost (issue #13).

Saving the shared notes leaves the private note being typed alone (and the other way round), each box
saves itself a moment after typing stops, "Mark as held" saves what was typed, and leaving the page with
unsaved text asks first.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def meeting(manager, rep):
    from dealflow.people.tests.factories import OneOnOneSeriesFactory

    series = OneOnOneSeriesFactory(manager=manager, rep=rep)
    return series.meetings.get()


def _private_text(meeting, user) -> str:
    from dealflow.people.models import PrivateNote

    return (
        PrivateNote.objects.filter(meeting=meeting, author=user).values_list("text", flat=True).first() or ""
    )


def _open(signed_in_page, user, meeting):
    page = signed_in_page(user)
    page.context.set_default_timeout(60_000)  # two cores shared by many: a page can take a while
    page.goto(f"/people/meetings/{meeting.pk}/")
    return page


def _shared_text(meeting) -> str:
    meeting.refresh_from_db()
    return meeting.shared_notes


def test_saving_one_part_keeps_the_other_and_each_box_saves_itself(signed_in_page, meeting, manager):
    page = _open(signed_in_page, manager, meeting)
    private = page.locator("textarea[data-note=private]")
    shared = page.locator("textarea[data-note=shared]")
    private.fill("Rita seems tired; ask about workload")
    shared.fill("Agreed: two demos a week")
    page.click("button:has-text('Save shared notes')")
    page.wait_for_function(
        "() => document.querySelector('[data-notes-form=shared] [data-note-status]').textContent.startsWith('Saved')"
    )
    # No reload: the private note typed a moment ago is still in its box, and it saves itself too.
    assert private.input_value() == "Rita seems tired; ask about workload"
    page.wait_for_function(
        "() => document.querySelector('[data-notes-form=private] [data-note-status]').textContent.startsWith('Saved')"
    )
    assert _shared_text(meeting) == "Agreed: two demos a week"
    assert _private_text(meeting, manager) == "Rita seems tired; ask about workload"
    page.reload()
    assert page.locator("textarea[data-note=private]").input_value() == "Rita seems tired; ask about workload"
    assert page.locator("textarea[data-note=shared]").input_value() == "Agreed: two demos a week"


def test_mark_as_held_keeps_what_was_typed_and_was_not_saved(signed_in_page, meeting, manager):
    page = _open(signed_in_page, manager, meeting)
    # Typed and "Mark as held" clicked at once: no autosave has had time to run.
    page.evaluate(
        """() => {
            document.querySelector('textarea[data-note=shared]').value = 'Shared, typed in a hurry';
            document.querySelector('textarea[data-note=private]').value = 'Private, typed in a hurry';
        }"""
    )
    page.click("[data-complete]")
    page.wait_for_selector("text=Meeting held")
    assert _shared_text(meeting) == "Shared, typed in a hurry"
    assert _private_text(meeting, manager) == "Private, typed in a hurry"
    assert meeting.is_completed


def test_leaving_with_unsaved_notes_asks_first(signed_in_page, meeting, manager):
    page = _open(signed_in_page, manager, meeting)
    asked: list[str] = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", on_dialog)
    page.locator("textarea[data-note=private]").press_sequentially("Half a thought", delay=10)
    page.close(run_before_unload=True)  # the tab is closed while the autosave is still waiting
    page.wait_for_timeout(300) if not page.is_closed() else None
    assert asked == ["beforeunload"]
