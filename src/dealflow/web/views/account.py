"""Sign in, sign out, change password (Django's auth views with our templates) and the language choice."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealflow.accounts.services import user_language_set
from dealflow.core.errors import ApplicationError
from dealflow.web.views.workspace import AuthenticatedRequest


class SignInView(auth_views.LoginView):
    template_name = "web/account/login.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """POST only (Django 5); goes to settings.LOGOUT_REDIRECT_URL, the sign-in page."""


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "web/account/password_change.html"
    success_url = reverse_lazy("web:home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


@login_required
@require_POST
def language_set(request: AuthenticatedRequest) -> HttpResponse:
    """Save the user's language and go back to the page they were on."""
    try:
        user_language_set(user=request.user, language=request.POST.get("language", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    translation.activate(request.user.language)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("web:home")
    return HttpResponseRedirect(target)
