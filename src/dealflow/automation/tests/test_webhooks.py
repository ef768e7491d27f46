import datetime as dt
import time
from decimal import Decimal

import pytest
import time_machine

from dealflow.automation.calculations import retry_delay, signature, signature_verify
from dealflow.automation.dispatch import dispatch_pass
from dealflow.automation.models import Action, DeliveryStatus, Trigger, WebhookAttempt, WebhookDelivery
from dealflow.automation.services import rule_create, subscription_create, subscription_resume
from dealflow.automation.tests.receiver import Receiver
from dealflow.automation.webhooks import deliveries_send_due
from dealflow.core.errors import ApplicationError
from dealflow.deals.services import (
    activity_complete,
    activity_create,
    deal_mark_won,
    deal_move_to_stage,
    deal_update,
    lead_convert,
    lead_qualify,
)
from dealflow.deals.tests.factories import DealFactory, LeadFactory, stage_named
from dealflow.notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db
ALL = [
    "deal.created",
    "deal.moved",
    "deal.won",
    "deal.lost",
    "deal.amount_changed",
    "lead.created",
    "lead.converted",
    "activity.done",
]


def test_retry_delays_double_from_30_seconds_to_a_cap():
    assert [retry_delay(attempt).total_seconds() for attempt in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(30).total_seconds() == 6 * 3600


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    # Worked out with: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    header = signature(secret="whsec_test", timestamp=1700000000, body=b'{"a":1}')
    assert (
        header
        == "t=1700000000,v1="
        + __import__("hmac").new(b"whsec_test", b'1700000000.{"a":1}', "sha256").hexdigest()
    )
    assert signature_verify(secret="whsec_test", header=header, body=b'{"a":1}', now=1700000100)
    assert not signature_verify(secret="whsec_test", header=header, body=b'{"a":2}', now=1700000100)
    assert not signature_verify(secret="other", header=header, body=b'{"a":1}', now=1700000100)
    assert not signature_verify(secret="whsec_test", header=header, body=b'{"a":1}', now=1700000400)  # replay


def test_subscription_settings_are_checked(rep):
    with pytest.raises(ApplicationError) as error:
        subscription_create(by=rep, name="x", url="ftp://example.com", event_types=ALL)
    assert error.value.field == "url"
    with pytest.raises(ApplicationError) as error:
        subscription_create(by=rep, name="x", url="https://example.com", event_types=["deal.exploded"])
    assert error.value.field == "event_types"
    with pytest.raises(ApplicationError) as error:
        subscription_create(by=rep, name="x", url="https://example.com", event_types=[])
    assert error.value.field == "event_types"


def test_every_event_type_arrives_signed_with_its_id(rep):
    with Receiver() as receiver:
        _, secret = subscription_create(by=rep, name="CRM sync", url=receiver.url, event_types=ALL)
        deal = DealFactory(owner=rep, title="Desks", amount=Decimal("100"))
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        deal_update(deal=deal, by=rep, data={"amount": Decimal("250.50")})
        deal_mark_won(deal=deal, by=rep)
        lead = LeadFactory(owner=rep, title="Inbound", has_need=True, has_budget=True)
        lead_qualify(lead=lead, by=rep)
        lead_convert(lead=lead, by=rep)
        call = activity_create(owner=rep, subject="Call", deal=deal)
        activity_complete(activity=call, by=rep)
        dispatch_pass()
        result = deliveries_send_due()
    types = [request.headers["Dealflow-Event-Type"] for request in receiver.requests]
    assert sorted(types) == sorted(
        [
            "deal.created",
            "deal.moved",
            "deal.amount_changed",
            "deal.won",
            "lead.created",
            "deal.created",
            "lead.converted",
            "activity.done",
        ]
    )
    assert result.delivered == 8
    for request in receiver.requests:
        assert signature_verify(
            secret=secret,
            header=request.headers["Dealflow-Signature"],
            body=request.body,
            now=int(time.time()),
        )
        assert request.payload["id"] == request.headers["Dealflow-Event-Id"]
    amount = next(
        request.payload for request in receiver.requests if request.payload["type"] == "deal.amount_changed"
    )
    assert amount["data"]["deal"]["amount"] == "250.50"
    assert amount["data"]["event"]["from"] == "100.00 EUR"
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 8
    assert all(attempt.status_code == 200 for attempt in WebhookAttempt.objects.all())


def test_retry_after_a_500_with_the_same_event_id(rep):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with Receiver() as receiver:
        receiver.answers.extend([500, 503])
        with time_machine.travel(start, tick=False):
            subscription_create(by=rep, name="x", url=receiver.url, event_types=["deal.created"])
            DealFactory(owner=rep)
            dispatch_pass()
            first = deliveries_send_due()
        with time_machine.travel(start + dt.timedelta(seconds=29), tick=False):
            too_early = deliveries_send_due()
        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            second = deliveries_send_due()
        with time_machine.travel(start + dt.timedelta(seconds=31 + 61), tick=False):
            third = deliveries_send_due()
    assert (first.failed, too_early.sent, second.failed, third.delivered) == (1, 0, 1, 1)
    ids = {request.headers["Dealflow-Event-Id"] for request in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert list(WebhookAttempt.objects.order_by("at").values_list("status_code", flat=True)) == [
        500,
        503,
        200,
    ]


def test_one_deals_deliveries_arrive_in_order_even_after_a_failure(rep):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with Receiver() as receiver:
        receiver.answers.append(500)  # the first delivery fails once
        with time_machine.travel(start, tick=False):
            subscription_create(by=rep, name="x", url=receiver.url, event_types=ALL)
            deal = DealFactory(owner=rep)
            for name in ("Needs analysis", "Proposal", "Negotiation", "Closing"):
                deal_move_to_stage(deal=deal, stage=stage_named(name), by=rep)
            dispatch_pass()
            deliveries_send_due()
        with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
            deliveries_send_due()
    # The failed first try, then everything in the order it happened (nothing overtook the retry).
    assert [request.payload["type"] for request in receiver.requests][:2] == ["deal.created", "deal.created"]
    assert [request.payload["data"]["event"]["to"] for request in receiver.requests[1:]] == [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Closing",
    ]


def test_paused_after_five_failures_in_a_row_and_owner_told(rep):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with Receiver() as receiver:
        receiver.answers.extend([500] * 10)
        with time_machine.travel(start, tick=False):
            subscription, _ = subscription_create(
                by=rep, name="Flaky", url=receiver.url, event_types=["deal.created"]
            )
            for _ in range(5):
                DealFactory(owner=rep)
            dispatch_pass()
            deliveries_send_due()
        subscription.refresh_from_db()
        assert subscription.is_paused and subscription.consecutive_failures == 5
        notification = Notification.objects.get(user=rep, kind=NotificationKind.WEBHOOK_PAUSED)
        assert notification.title == "The webhook “Flaky” was paused after 5 failed deliveries in a row"
        with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
            assert deliveries_send_due().sent == 0  # paused: nothing goes out
            receiver.answers.clear()
            subscription_resume(subscription=subscription, by=rep)
            assert deliveries_send_due().delivered == 5
    assert len(receiver.requests) == 10


def test_a_reps_webhook_never_carries_deals_they_cannot_see(rep, manager, outsider, admin_user):
    with Receiver() as receiver:
        subscription_create(by=outsider, name="Outsider", url=receiver.url, event_types=["deal.created"])
        subscription_create(by=manager, name="Manager", url=receiver.url, event_types=["deal.created"])
        subscription_create(by=admin_user, name="Company", url=receiver.url, event_types=["deal.created"])
        DealFactory(owner=rep, title="Secret desks")
        dispatch_pass()
        deliveries_send_due()
    receivers = sorted(delivery.subscription.name for delivery in WebhookDelivery.objects.all())
    assert receivers == ["Company", "Manager"]
    assert len(receiver.requests) == 2


def test_webhook_action_of_a_rule(rep, admin_user):
    with Receiver() as receiver:
        subscription, _ = subscription_create(
            by=admin_user, name="Rules", url=receiver.url, event_types=["deal.won"]
        )
        rule_create(
            by=admin_user,
            data={
                "name": "Proposal hook",
                "trigger": Trigger.STAGE_ENTERED,
                "stage": stage_named("Proposal"),
                "action": Action.WEBHOOK,
                "params": {"subscription_id": subscription.pk},
            },
        )
        deal = DealFactory(owner=rep)
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        dispatch_pass()
        deliveries_send_due()
    (request,) = receiver.requests
    assert request.payload["type"] == "rule.fired"
    assert request.payload["data"]["rule"]["name"] == "Proposal hook"
    assert request.payload["data"]["deal"]["id"] == deal.pk


def test_the_servers_own_network_is_refused_in_production(rep, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "WEBHOOK_PRIVATE_ADDRESSES": False}
    for url in (
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ):
        with pytest.raises(ApplicationError) as error:
            subscription_create(by=rep, name="x", url=url, event_types=["deal.won"])
        assert error.value.field == "url"
    with Receiver() as receiver:
        # Made while allowed (or a public name that later resolves privately): refused when sent.
        settings.DEALFLOW = {**settings.DEALFLOW, "WEBHOOK_PRIVATE_ADDRESSES": True}
        subscription_create(by=rep, name="x", url=receiver.url, event_types=["deal.created"])
        settings.DEALFLOW = {**settings.DEALFLOW, "WEBHOOK_PRIVATE_ADDRESSES": False}
        DealFactory(owner=rep)
        dispatch_pass()
        result = deliveries_send_due()
    assert (result.sent, result.failed, receiver.requests) == (1, 1, [])
    assert WebhookDelivery.objects.get().last_error == "Refused: the host resolves to a private address."
