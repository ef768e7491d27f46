"""Every router of /api/v1, one module per domain (each module owns its `router`)."""

from __future__ import annotations

from dealflow.api import (
    accounts,
    activities,
    automation,
    commissions,
    contacts,
    customfields,
    deals,
    forecast,
    imports,
    leads,
    metrics,
    notifications,
    people,
    products,
    quotes,
    reference,
    reviews,
    saved_views,
    search,
    trash,
)

ROUTERS = [
    ("/v1/", deals.router),
    ("/v1/", leads.router),
    ("/v1/", activities.router),
    ("/v1/", contacts.router),
    ("/v1/", reference.router),
    ("/v1/", accounts.router),
    ("/v1/metrics/", metrics.router),
    ("/v1/forecast/", forecast.router),
    ("/v1/reviews/", reviews.router),
    ("/v1/people/", people.router),
    ("/v1/", imports.router),
    ("/v1/", products.router),
    ("/v1/", quotes.router),
    ("/v1/", customfields.router),
    ("/v1/", search.router),
    ("/v1/", saved_views.router),
    ("/v1/", notifications.router),
    ("/v1/", automation.router),
    ("/v1/", trash.router),
    ("/v1/commissions/", commissions.router),
]
