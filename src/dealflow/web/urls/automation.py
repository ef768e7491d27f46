"""Notifications, automation rules and webhook subscriptions (web/views/notifications.py, automation.py)."""

from django.urls import path

from dealflow.web.views import automation, notifications

urlpatterns = [
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.notification_bell, name="notification_bell"),
    path("notifications/read-all/", notifications.notification_read_all, name="notification_read_all"),
    path("notifications/settings/", notifications.notification_settings, name="notification_settings"),
    path(
        "notifications/<int:notification_id>/read/", notifications.notification_read, name="notification_read"
    ),
    path("calendar/<str:token>.ics", notifications.calendar_feed, name="calendar_feed"),
    path("automation/rules/", automation.rule_list, name="automation_rules"),
    path("automation/rules/new/", automation.rule_new, name="automation_rule_new"),
    path("automation/rules/<int:rule_id>/", automation.rule_detail, name="automation_rule"),
    path("automation/rules/<int:rule_id>/toggle/", automation.rule_toggle, name="automation_rule_toggle"),
    path(
        "automation/rules/<int:rule_id>/delete/", automation.rule_delete_view, name="automation_rule_delete"
    ),
    path("automation/webhooks/", automation.webhook_list, name="automation_webhooks"),
    path("automation/webhooks/<int:subscription_id>/", automation.webhook_detail, name="automation_webhook"),
    path(
        "automation/webhooks/<int:subscription_id>/<str:action>/",
        automation.webhook_action,
        name="automation_webhook_action",
    ),
]
