"""`dealflow token create|revoke|list`: API tokens for scripts (only a hash is stored; the secret shows once)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from dealflow.accounts.models import ApiToken, TokenScope
from dealflow.accounts.selectors import token_list_for_user
from dealflow.accounts.services import TOKEN_PREFIX, token_create, token_revoke
from dealflow.cli.base import DealflowCommand, user_get_by_username
from dealflow.core import clock
from dealflow.core.errors import ApplicationError


def token_find(reference: str) -> ApiToken:
    """A token by its id, its prefix (dfl_xxxxxxxx) or its whole secret; an ApplicationError if none or several match."""
    text = reference.strip()
    if text.isdigit():
        matches = list(ApiToken.objects.filter(pk=int(text)))
    elif text.startswith(TOKEN_PREFIX) and len(text) >= 8:
        matches = list(ApiToken.objects.filter(prefix__startswith=text[:12]))
    else:
        raise ApplicationError(
            _("Give a token id or its prefix (%(prefix)s...).") % {"prefix": TOKEN_PREFIX}, field="token"
        )
    if not matches:
        raise ApplicationError(_("No token matches %(reference)r.") % {"reference": text}, field="token")
    if len(matches) > 1:
        raise ApplicationError(
            _("Several tokens match %(reference)r; use the id.") % {"reference": text}, field="token"
        )
    return matches[0]


class Command(DealflowCommand):
    help = _("Create, revoke or list API tokens.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help=_("Create a token for a user and print its secret once."))
        create.add_argument("username")
        create.add_argument("--name", default="cli", help=_("A name to recognise the token by."))
        create.add_argument("--scope", choices=TokenScope.values, default=TokenScope.WRITE)
        create.add_argument(
            "--expires-days", type=int, help=_("Days until the token expires (default: never).")
        )
        revoke = actions.add_parser("revoke", help=_("Revoke a token by its id or prefix."))
        revoke.add_argument("token")
        listing = actions.add_parser("list", help=_("List a user's tokens (never their secrets)."))
        listing.add_argument("username")

    def handle(self, *args, action: str, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, username: str, name: str, scope: str, expires_days: int | None, **options):
        if expires_days is not None and expires_days < 1:
            raise ApplicationError(_("--expires-days must be 1 or more."), field="expires_days")
        expires_at = clock.now() + dt.timedelta(days=expires_days) if expires_days else None
        token, secret = token_create(
            user=user_get_by_username(username), name=name, scope=scope, expires_at=expires_at
        )
        self.stderr.write(
            _("Token %(id)s (%(prefix)s...) created. Store the secret now; it is not shown again:")
            % {"id": token.pk, "prefix": token.prefix},
            style_func=lambda text: text,
        )
        self.stdout.write(secret)

    def handle_revoke(self, *, token: str, **options):
        revoked = token_revoke(token=token_find(token))
        self.stdout.write(
            _("Revoked token %(id)s (%(prefix)s...).") % {"id": revoked.pk, "prefix": revoked.prefix}
        )

    def handle_list(self, *, username: str, **options):
        def moment(value: dt.datetime | None) -> str:
            return value.strftime("%Y-%m-%d %H:%M") if value else "-"

        now = clock.now()
        self.stdout.write(
            f"{'ID':>5}  {'PREFIX':<13} {'NAME':<20} {'SCOPE':<6} {'CREATED':<17} {'EXPIRES':<17} {'LAST USED':<17} STATE"
        )
        for token in token_list_for_user(user=user_get_by_username(username)):
            if token.revoked_at:
                state = _("revoked")
            elif token.expires_at and token.expires_at <= now:
                state = _("expired")
            else:
                state = _("active")
            self.stdout.write(
                f"{token.pk:>5}  {token.prefix:<13} {token.name[:20]:<20} {token.scope:<6} {moment(token.created_at):<17} "
                f"{moment(token.expires_at):<17} {moment(token.last_used_at):<17} {state}"
            )
