import pytest

from dealflow.accounts.models import AuditEntry

PASSWORD = "correct horse battery staple"


@pytest.mark.django_db
def test_sign_ins_and_failures_are_audited(client, rep):
    assert client.login(username="rep", password=PASSWORD)
    client.logout()
    assert not client.login(username="rep", password="wrong")
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["auth.login", "auth.logout", "auth.login_failed"]


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_with_429_and_retry_after(client, rep, settings):
    settings.AXES_ENABLED = True
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.AXES_FAILURE_LIMIT = 3
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    for _ in range(3):
        request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.1")
        assert authenticate(request=request, username="rep", password="wrong") is None
    from axes.helpers import get_lockout_response

    request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.1")
    response = get_lockout_response(request, {"username": "rep"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME * 3600)
    # Even the right password is refused while locked out.
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.1")
    assert authenticate(request=request, username="rep", password=PASSWORD) is None
