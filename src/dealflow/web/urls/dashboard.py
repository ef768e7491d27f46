"""The Dashboard, the Funnel page and the metric definitions (web/views/dashboard.py)."""

from django.urls import path

from dealflow.web.views import dashboard

urlpatterns = [
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("dashboard/attention/", dashboard.dashboard_attention, name="dashboard_attention"),
    path("funnel/", dashboard.funnel_page, name="funnel"),
    path("metrics/definitions/", dashboard.metrics_definitions, name="metrics_definitions"),
]
