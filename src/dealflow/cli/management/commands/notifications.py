"""`dealflow notifications list|read|prefs|feed|watch|digests`: the bell, preferences and the calendar feed
from a terminal, and one pass of the background jobs (the worker runs them on its own)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, user_get_by_username
from dealflow.core.errors import ApplicationError
from dealflow.notifications.selectors import (
    notification_get_for_user,
    notification_list_for_user,
    preference_list_for_user,
)
from dealflow.notifications.services import (
    calendar_feed_create,
    calendar_feed_revoke,
    notification_mark_all_read,
    notification_mark_read,
    preferences_set,
)


class Command(DealflowCommand):
    help = _(
        "Notifications: list and mark read, per-kind channels, the calendar feed, run the watch or digests."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help=_("A user's notifications, newest first."))
        listing.add_argument("username")
        listing.add_argument("--unread", action="store_true", help=_("Only the unread ones."))
        listing.add_argument("--limit", type=int, default=20)
        read = actions.add_parser("read", help=_("Mark one notification (by id) or all of them read."))
        read.add_argument("username")
        read.add_argument("id", nargs="?", type=int)
        read.add_argument("--all", action="store_true")
        prefs = actions.add_parser("prefs", help=_("Show or set how a user hears about each kind."))
        prefs.add_argument("username")
        prefs.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KIND=CHANNEL",
            help=_("e.g. mention=both (repeatable)."),
        )
        feed = actions.add_parser("feed", help=_("Make a new calendar feed URL, or stop it."))
        feed.add_argument("username")
        feed.add_argument("what", choices=["create", "revoke"])
        feed.add_argument("--base-url", default="http://localhost:8000", help=_("Where Dealflow is served."))
        actions.add_parser("watch", help=_("Run one pass of the notifications watch now."))
        actions.add_parser("digests", help=_("Send the daily and weekly digests that are due now."))

    def handle(self, *args, action: str, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_list(self, *, username: str, unread: bool, limit: int, **options):
        user = user_get_by_username(username)
        for notification in notification_list_for_user(user=user, unread_only=unread)[: max(limit, 1)]:
            mark = " " if notification.read_at else "*"
            self.stdout.write(
                f"{mark} {notification.pk:>6}  {notification.created_at:%Y-%m-%d %H:%M}  {notification.title}"
            )

    def handle_read(self, *, username: str, id: int | None, all: bool, **options):
        user = user_get_by_username(username)
        if all:
            self.stdout.write(_("%(count)s marked read.") % {"count": notification_mark_all_read(user=user)})
            return
        if id is None:
            raise ApplicationError(_("Give a notification id or --all."), field="id")
        notification_mark_read(notification=notification_get_for_user(notification_id=id, user=user), by=user)
        self.stdout.write(_("Marked read."))

    def handle_prefs(self, *, username: str, set: list[str], **options):
        user = user_get_by_username(username)
        channels = {}
        for item in set:
            kind, _sep, channel = item.partition("=")
            if not channel:
                raise ApplicationError(_("Write --set KIND=CHANNEL, e.g. mention=both."), field="set")
            channels[kind.strip()] = channel.strip()
        if channels:
            preferences_set(user=user, channels=channels)
        for row in preference_list_for_user(user=user):
            self.stdout.write(f"{row.kind:<22} {row.channel}")

    def handle_feed(self, *, username: str, what: str, base_url: str, **options):
        user = user_get_by_username(username)
        if what == "revoke":
            count = calendar_feed_revoke(user=user)
            self.stdout.write(_("Stopped.") if count else _("There was no calendar URL."))
            return
        _feed, secret = calendar_feed_create(user=user)
        self.stdout.write(f"{base_url.rstrip('/')}/calendar/{secret}.ics")

    def handle_watch(self, **options):
        from dealflow.notifications.watch import watch_pass

        for source, count in watch_pass().items():
            self.stdout.write(f"{source:<16} {count}")

    def handle_digests(self, **options):
        from dealflow.notifications.digests import digests_send_due

        sent = digests_send_due()
        self.stdout.write(_("Daily digests sent: %(daily)s; weekly: %(weekly)s.") % sent)
