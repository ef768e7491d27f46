import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from dealflow.core.errors import ApplicationError
from dealflow.deals.services import activity_create
from dealflow.deals.tests.factories import DealFactory
from dealflow.notifications.models import Channel, Notification, NotificationKind
from dealflow.notifications.selectors import (
    notification_get_for_user,
    notification_list_for_user,
    notification_unread_count,
    preference_list_for_user,
)
from dealflow.notifications.services import (
    Message,
    NotificationDraft,
    notification_mark_all_read,
    notification_mark_read,
    notify,
    notify_many,
    preference_set,
)
from dealflow.notifications.watch import watch_pass

pytestmark = pytest.mark.django_db


def _message(text="Hello %(name)s"):
    return Message(text, {"name": "Rita"}, url="/deals/1/")


def test_notify_once_per_key_and_count_on_the_bell(rep):
    first = notify(user=rep, kind=NotificationKind.RULE, key="rule:1:event:9", message=_message())
    again = notify(user=rep, kind=NotificationKind.RULE, key="rule:1:event:9", message=_message())
    assert first is not None and again is None
    assert first.title == "Hello Rita"
    assert notification_unread_count(user=rep) == 1
    notification_mark_read(notification=first, by=rep)
    assert notification_unread_count(user=rep) == 0


def test_mark_all_read_touches_only_my_notifications(rep, rep2):
    notify(user=rep, kind=NotificationKind.RULE, key="a", message=_message())
    notify(user=rep, kind=NotificationKind.RULE, key="b", message=_message())
    notify(user=rep2, kind=NotificationKind.RULE, key="a", message=_message())
    assert notification_mark_all_read(user=rep) == 2
    assert notification_unread_count(user=rep2) == 1


def test_someone_elses_notification_is_a_404(rep, rep2):
    from django.http import Http404

    theirs = notify(user=rep2, kind=NotificationKind.RULE, key="a", message=_message())
    with pytest.raises(Http404):
        notification_get_for_user(notification_id=theirs.pk, user=rep)


@pytest.mark.parametrize(
    ("channel", "shown", "emails"),
    [(Channel.IN_APP, True, 0), (Channel.EMAIL, False, 1), (Channel.BOTH, True, 1), (Channel.OFF, False, 0)],
)
def test_channel_preference_decides_bell_and_email(rep, channel, shown, emails):
    rep.email = "rita@example.com"
    rep.save()
    preference_set(user=rep, kind=NotificationKind.MENTION, channel=channel)
    notify(user=rep, kind=NotificationKind.MENTION, key="mention:1", message=_message())
    assert notification_unread_count(user=rep) == (1 if shown else 0)
    assert len(mail.outbox) == emails


def test_preferences_refuse_unknown_kind_channel_and_in_app_digests(rep):
    with pytest.raises(ApplicationError) as error:
        preference_set(user=rep, kind="nope", channel=Channel.BOTH)
    assert error.value.field == "kind"
    with pytest.raises(ApplicationError) as error:
        preference_set(user=rep, kind=NotificationKind.MENTION, channel="pigeon")
    assert error.value.field == "channel"
    with pytest.raises(ApplicationError) as error:
        preference_set(user=rep, kind=NotificationKind.DIGEST_DAILY, channel=Channel.IN_APP)
    assert error.value.field == "channel"
    rows = {row.kind: row.channel for row in preference_list_for_user(user=rep)}
    assert rows[NotificationKind.MENTION] == Channel.IN_APP
    assert rows[NotificationKind.DIGEST_DAILY] == Channel.EMAIL


def test_title_is_written_in_the_recipients_language(rep):
    rep.language = "nl"
    rep.save()
    watch_pass()  # start the cursors
    from dealflow.accounts.tests.factories import UserFactory

    boss = UserFactory(username="boss", first_name="Bea", last_name="Baas")
    DealFactory(owner=rep, by=boss, title="Lampen")
    watch_pass()
    notification = Notification.objects.get(user=rep, kind=NotificationKind.DEAL_ASSIGNED)
    assert notification.title == "Bea Baas heeft de deal “Lampen” aan jou toegewezen"


def test_email_leaves_through_smtp_and_arrives(smtp_inbox, rep):
    rep.email = "rita@example.com"
    rep.save()
    preference_set(user=rep, kind=NotificationKind.ACTIVITY_OVERDUE, channel=Channel.BOTH)
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        activity_create(
            owner=rep, subject="Call the buyer back", due_at=timezone.now() - dt.timedelta(hours=2)
        )
        watch_pass()
    assert len(smtp_inbox.messages) == 1
    message = smtp_inbox.messages[0]
    assert message["To"] == "rita@example.com"
    assert "Call the buyer back" in message["Subject"]
    assert Notification.objects.get(user=rep).emailed_at is not None


def test_list_is_newest_first_and_hides_email_only(rep):
    preference_set(user=rep, kind=NotificationKind.SURVEY_OPEN, channel=Channel.EMAIL)
    notify(user=rep, kind=NotificationKind.RULE, key="a", message=_message("one"))
    notify(user=rep, kind=NotificationKind.SURVEY_OPEN, key="b", message=_message("two"))
    notify(user=rep, kind=NotificationKind.RULE, key="c", message=_message("three"))
    assert [item.title for item in notification_list_for_user(user=rep)] == ["three", "one"]


def test_notify_many_makes_each_occasion_once_as_each_recipient_chose(rep, rep2, outsider):
    preference_set(user=rep2, kind=NotificationKind.RULE, channel=Channel.EMAIL)
    rep2.email = "rep2@example.com"
    rep2.save()
    outsider.is_active = False
    outsider.save()
    notify(user=rep, kind=NotificationKind.RULE, key="rule:1:event:9", message=_message())
    drafts = [
        NotificationDraft(rep, NotificationKind.RULE, "rule:1:event:9", _message("Again")),  # notified before
        NotificationDraft(rep, NotificationKind.RULE, "rule:1:event:10", _message("New %(name)s")),
        NotificationDraft(rep, NotificationKind.RULE, "rule:1:event:10", _message("Twice in one batch")),
        NotificationDraft(rep2, NotificationKind.RULE, "rule:1:event:9", _message("Mail %(name)s")),
        NotificationDraft(outsider, NotificationKind.RULE, "rule:1:event:9", _message()),  # inactive
    ]
    assert notify_many(drafts=drafts) == 2
    rows = Notification.objects.order_by("user__username", "key")
    assert [
        (row.user.username, row.key, row.title, row.is_shown, row.emailed_at is not None) for row in rows
    ] == [
        ("rep", "rule:1:event:10", "New Rita", True, False),
        ("rep", "rule:1:event:9", "Hello Rita", True, False),
        ("rep2", "rule:1:event:9", "Mail Rita", False, True),
    ]
    assert [message.subject for message in mail.outbox] == ["Mail Rita"]
    with pytest.raises(ApplicationError):
        notify_many(drafts=[NotificationDraft(rep, "no_such_kind", "x", _message())])
