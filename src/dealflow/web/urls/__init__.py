"""HTML routes, one module per area (each module owns its `urlpatterns`), all in the `web` namespace."""

from dealflow.web.urls import (
    account,
    automation,
    commissions,
    contacts,
    contents,
    dashboard,
    forecast,
    imports,
    people,
    pipeline,
    reviews,
    search,
    settings,
    trash,
)

app_name = "web"

urlpatterns = [
    *account.urlpatterns,
    *pipeline.urlpatterns,
    *dashboard.urlpatterns,
    *forecast.urlpatterns,
    *reviews.urlpatterns,
    *people.urlpatterns,
    *imports.urlpatterns,
    *settings.urlpatterns,
    *contents.urlpatterns,
    *contacts.urlpatterns,
    *search.urlpatterns,
    *automation.urlpatterns,
    *commissions.urlpatterns,
    *trash.urlpatterns,
]
