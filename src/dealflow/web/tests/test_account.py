"""Account pages: sign in, language choice."""

from __future__ import annotations

from django.urls import reverse


def test_sign_in_page_and_redirect_of_a_signed_in_user(client, rep):
    assert client.get(reverse("web:login")).status_code == 200
    client.force_login(rep)
    response = client.get(reverse("web:login"))
    assert response.status_code == 302 and response["Location"] == reverse("web:home")


def test_language_is_saved_and_used(client, rep):
    client.force_login(rep)
    response = client.post(reverse("web:language_set"), {"language": "nl", "next": "/forecast-board/"})
    assert response.status_code == 302 and response["Location"] == "/forecast-board/"
    rep.refresh_from_db()
    assert rep.language == "nl"
    response = client.get(reverse("web:password_change"))
    assert response["Content-Language"] == "nl"
    assert "Wachtwoord wijzigen" in response.content.decode()


def test_an_unknown_language_or_a_foreign_next_is_refused(client, rep):
    client.force_login(rep)
    response = client.post(reverse("web:language_set"), {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == reverse("web:home")
    rep.refresh_from_db()
    assert rep.language == "en"
    assert client.get(reverse("web:language_set")).status_code == 405


def test_password_change(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("web:password_change"),
        {
            "old_password": "correct horse battery staple",
            "new_password1": "a much longer new secret 42",
            "new_password2": "a much longer new secret 42",
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password("a much longer new secret 42")
