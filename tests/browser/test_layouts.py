"""Every page fits a 390 px phone and every menu entry is reachable at 1280 px, for every role (issue #19).

On a small demo (its people, deals, forecasts, reviews and surveys), as admin, manager, rep and analyst:
at 390 px the document may not be wider than the screen (a wide table scrolls inside its own box); at
1280 px each menu entry the role is offered is visible, inside the window and the topmost element at its
centre (not clipped by the bar or covered by the user menu). The widths measured are printed.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.browser

PERSONAS = ("admin", "manager", "rep", "analyst")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Pages a person reads besides the menu's: a deal, a review and its report, the definitions of metrics.
RECORD_PAGES = ("deal", "review", "review_report")

WIDTH = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
REACHABLE = """(link) => {
  const box = link.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return 'hidden';
  if (box.left < 0 || box.right > window.innerWidth + 0.5 || box.top < 0 || box.bottom > window.innerHeight) {
    return `outside the window (${Math.round(box.left)}-${Math.round(box.right)} px)`;
  }
  const topmost = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return topmost && (topmost === link || link.contains(topmost)) ? '' : 'covered or clipped';
}"""


@pytest.fixture
def demo(live_db):
    from dealflow.demo import generate

    generate.demo_generate(deals=120, seed=5, today=dt.date.today(), progress=False, chunk_size=120)


def _record_paths(user) -> dict[str, str]:
    from dealflow.deals.selectors import deal_list_for_user
    from dealflow.reviews.selectors import review_list_for_user

    paths = {}
    deal = deal_list_for_user(user=user, order=None).order_by("-amount_minor").first()
    if deal is not None:
        paths["deal"] = f"/deals/{deal.pk}/"
    # The newest review the user may open (the admin's is the company's, the widest), open ones first: they
    # carry the bulk-decision bar.
    review = review_list_for_user(user=user).order_by("-status", "-pk").first()
    if review is not None:
        paths["review"] = f"/reviews/{review.pk}/"
        paths["review_report"] = f"/reviews/{review.pk}/report/"
    return paths


def _menu(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#main-nav a", "links => links.map(link => [link.textContent.trim(), link.getAttribute('href')])"
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_is_wider_than_a_phone(demo, signed_in_page, persona):
    from dealflow.accounts.models import User

    user = User.objects.get(username=persona)
    page = signed_in_page(user, path="/")
    page.set_default_timeout(60_000)  # the forecast page simulates; a loaded machine is slow
    menu = _menu(page)
    page.set_viewport_size(PHONE)
    paths = [href for _label, href in menu] + list(_record_paths(user).values())
    widths = {}
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("load")
        widths[path] = page.evaluate(WIDTH)
    print(f"\n{persona} at 390 px: " + ", ".join(f"{path} {width}" for path, width in widths.items()))
    wide = {path: width for path, width in widths.items() if width > PHONE["width"]}
    assert not wide, f"wider than 390 px as {persona}: {wide}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_menu_entry_is_reachable_at_1280(demo, signed_in_page, persona):
    from dealflow.accounts.models import User

    user = User.objects.get(username=persona)
    page = signed_in_page(user, path="/deals/")
    page.set_default_timeout(60_000)
    page.set_viewport_size(DESKTOP)
    links = page.locator("#main-nav a")
    assert links.count() >= 5
    problems = {}
    for index in range(links.count()):
        link = links.nth(index)
        state = link.evaluate(REACHABLE)
        if state:
            problems[link.inner_text()] = state
    assert not problems, f"menu entries out of reach at 1280 px as {persona}: {problems}"
    last = links.nth(links.count() - 1)
    href = last.get_attribute("href")
    last.click()
    page.wait_for_url(f"**{href}")
