from django.contrib import admin
from django.urls import include, path

from dealflow.api.urls import api
from dealflow.web.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("dealflow.web.urls")),
]
