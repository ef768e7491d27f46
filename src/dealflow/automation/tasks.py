"""Background jobs of automation (django-tasks); AutomationConfig.ready() schedules them."""

from __future__ import annotations

from django_tasks import task


@task()
def automation_dispatch() -> dict[str, int]:
    """Run the rules and queue webhooks for what happened since the last pass; then send what was queued."""
    from dealflow.automation.dispatch import dispatch_pass

    result = dispatch_pass()
    if result.deliveries:
        webhooks_deliver.enqueue()
    return {
        "events": result.events,
        "leads": result.leads,
        "runs": result.runs,
        "failed": result.failed,
        "deliveries": result.deliveries,
    }


@task()
def webhooks_deliver() -> dict[str, int]:
    """Send the webhook deliveries that are due (new ones and retries)."""
    from dealflow.automation.webhooks import deliveries_send_due

    result = deliveries_send_due()
    return {"sent": result.sent, "delivered": result.delivered, "failed": result.failed}
