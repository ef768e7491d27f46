"""Sign-in lockout locks a username from one client, never an address alone (issue #13).

Behind the documented load balancer every request arrives from the balancer's address: locking by
address let anyone lock everyone out. Lockouts are per (username, client address); the client address
comes from X-Forwarded-For only when BEHIND_PROXY is set, and then only the entry the balancer added.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from dealflow.accounts.client_ip import client_ip

PASSWORD = "correct horse battery staple"
BALANCER = "10.0.0.2"

pytestmark = pytest.mark.django_db


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.AXES_FAILURE_LIMIT = 3
    return settings


def _sign_in(username: str, password: str, *, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": BALANCER}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/login/", **extra)
    return authenticate(request=request, username=username, password=password)


def test_an_attacker_behind_the_balancer_cannot_lock_out_everyone(axes_on, rep, rep2):
    axes_on.BEHIND_PROXY = False  # the balancer's address is all the app sees
    for _ in range(3):
        assert _sign_in("rep", "wrong") is None
    assert _sign_in("rep", PASSWORD) is None  # that username is locked from this address
    assert _sign_in("rep2", PASSWORD) == rep2  # everybody else still signs in through the balancer


def test_behind_proxy_the_lock_holds_one_username_from_one_client(axes_on, rep, rep2):
    axes_on.BEHIND_PROXY = True
    attacker, rita = "198.51.100.7", "203.0.113.5"
    for _ in range(3):
        assert _sign_in("rep", "wrong", forwarded=attacker) is None
    assert _sign_in("rep", PASSWORD, forwarded=attacker) is None  # locked for the attacker
    assert _sign_in("rep", PASSWORD, forwarded=rita) == rep  # Rita, from her own address, gets in
    # A forged entry to the left of the balancer's does not move the attacker to another address.
    assert _sign_in("rep", PASSWORD, forwarded=f"{rita}, {attacker}") is None


def test_the_forwarded_header_counts_only_behind_a_proxy(settings):
    request = RequestFactory().get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    settings.BEHIND_PROXY = False
    assert client_ip(request) == BALANCER
    settings.BEHIND_PROXY = True
    assert client_ip(request) == "198.51.100.7"
