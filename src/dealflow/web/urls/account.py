from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("login/", RedirectView.as_view(url="/admin/login/", permanent=False), name="login"),
]
