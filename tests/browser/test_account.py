"""Sign in through the form, and the account menu, in a real browser."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_sign_in_with_the_form_and_out_again(page, rep):
    page.goto("/account/password/")
    assert page.url.endswith("/login/?next=/account/password/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url("**/account/password/")
    assert page.locator(".user-name").inner_text() == "Rita Rep"
    page.click(".user-menu summary")
    page.click("[data-sign-out]")
    page.wait_for_url("**/login/")
    assert page.locator(".user-menu").count() == 0


def test_a_wrong_password_is_refused(page, rep):
    page.goto("/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".form-error").is_visible()
    assert page.url.endswith("/login/")
