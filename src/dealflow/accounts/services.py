"""Users, teams, memberships, API tokens and the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from dealflow.accounts.models import ApiToken, AuditEntry, Membership, Role, Team, TokenScope, User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError

TOKEN_PREFIX = "dfl_"


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Append one audit entry (sign-ins, role changes, tokens, exports, imports, settings)."""
    return AuditEntry.objects.create(
        at=clock.now(),
        actor=actor if actor and actor.pk else None,
        action=action,
        target=target[:200],
        detail=detail or {},
        ip_address=ip_address,
    )


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
    language: str = "en",
    is_active: bool = True,
    validate: bool = True,
    by: User | None = None,
) -> User:
    """Create a user; the password passes Django's validators unless ``validate`` is off (demo data)."""
    name = str(username or "").strip()
    if not name:
        raise ApplicationError("A username is required.", field="username")
    if User.objects.filter(username__iexact=name).exists():
        raise ApplicationError(f"The username {name!r} is taken.", field="username")
    user = User(
        username=name,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_superuser=is_superuser,
        is_staff=is_superuser,
        language=language,
        is_active=is_active,
    )
    if password:
        if validate:
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise ApplicationError(" ".join(error.messages), field="password") from error
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_record(actor=by, action="user.created", target=f"user:{user.pk}", detail={"username": name})
    return user


@transaction.atomic
def team_create(*, name: str, reps_see_team_deals: bool = False, by: User | None = None) -> Team:
    """Create a team."""
    text = str(name or "").strip()
    if not text:
        raise ApplicationError("A team needs a name.", field="name")
    if Team.objects.filter(name__iexact=text).exists():
        raise ApplicationError("A team with this name exists.", field="name")
    team = Team.objects.create(name=text, reps_see_team_deals=reps_see_team_deals)
    audit_record(actor=by, action="team.created", target=f"team:{team.pk}", detail={"name": text})
    return team


@transaction.atomic
def membership_set(*, user: User, team: Team, role: str, by: User | None = None) -> Membership:
    """Give a user a role in a team (adds the membership or changes its role)."""
    if role not in Role.values:
        raise ApplicationError(f"Role must be one of {', '.join(Role.values)}.", field="role")
    membership, created = Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
    old_role = None if created else membership.role
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    audit_record(
        actor=by,
        action="membership.set",
        target=f"user:{user.pk}",
        detail={"team": team.name, "role": role, "previous_role": old_role},
    )
    return membership


@transaction.atomic
def membership_remove(*, user: User, team: Team, by: User | None = None) -> None:
    """Take a user out of a team."""
    deleted, _ = Membership.objects.filter(user=user, team=team).delete()
    if deleted:
        audit_record(
            actor=by, action="membership.removed", target=f"user:{user.pk}", detail={"team": team.name}
        )


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    user: User,
    name: str,
    scope: str = TokenScope.WRITE,
    expires_at: dt.datetime | None = None,
    by: User | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the secret, which is never stored and shown once."""
    if scope not in TokenScope.values:
        raise ApplicationError("Scope must be read or write.", field="scope")
    if expires_at is not None and expires_at <= clock.now():
        raise ApplicationError("The expiry must lie in the future.", field="expires_at")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=(str(name or "").strip() or "token")[:80],
        prefix=secret[:12],
        token_hash=token_hash(secret),
        scope=scope,
        expires_at=expires_at,
    )
    audit_record(
        actor=by or user,
        action="token.created",
        target=f"token:{token.pk}",
        detail={"user": user.username, "name": token.name, "scope": scope},
    )
    return token, secret


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User | None = None) -> ApiToken:
    """Revoke a token (idempotent)."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=by,
            action="token.revoked",
            target=f"token:{token.pk}",
            detail={"user": token.user.username, "name": token.name},
        )
    return token


def token_authenticate(*, secret: str) -> ApiToken | None:
    """The live token matching a presented secret (not revoked, not expired), marking it used."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=token_hash(secret), revoked_at__isnull=True)
        .first()
    )
    now = clock.now()
    if token is None or not token.user.is_active or (token.expires_at and token.expires_at <= now):
        return None
    # Write last_used_at at most once a minute so a busy script does not turn reads into writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_language_set(*, user: User, language: str) -> User:
    """Save the language the user reads the web UI in (one of settings.LANGUAGES)."""
    from django.conf import settings

    code = str(language or "").strip().lower()
    if code not in {available for available, _name in settings.LANGUAGES}:
        raise ApplicationError(f"Unknown language {language!r}.", field="language")
    if user.language != code:
        user.language = code
        user.save(update_fields=["language"])
    return user


@transaction.atomic
def users_active_set(*, user_ids: Iterable[int], is_active: bool) -> int:
    """Make users active or inactive; an import's owners are active only inside its transaction (the
    services refuse inactive owners), so nobody can sign in as them in between. Returns the count changed."""
    return User.objects.filter(pk__in=list(user_ids)).exclude(is_active=is_active).update(is_active=is_active)


@transaction.atomic
def user_source_set(*, user: User, external_source: str, external_id: str) -> User:
    """Record which account of another system a user stands for (an owner an import created)."""
    user.external_source, user.external_id = external_source, external_id
    user.save(update_fields=["external_source", "external_id"])
    return user
