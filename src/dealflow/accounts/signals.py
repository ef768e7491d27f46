"""Sign-in events go to the audit log (Django's auth signals are the only hook for them)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from dealflow.accounts.services import audit_record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in, dispatch_uid="dealflow_audit_login")
def audit_login(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.login", target=f"user:{user.pk}", ip_address=_ip(request))


@receiver(user_logged_out, dispatch_uid="dealflow_audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.logout", target=f"user:{user.pk}", ip_address=_ip(request))


@receiver(user_login_failed, dispatch_uid="dealflow_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    audit_record(
        actor=None, action="auth.login_failed", target=f"username:{username}", ip_address=_ip(request)
    )
