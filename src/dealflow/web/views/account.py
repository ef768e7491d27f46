"""Sign in, sign out, change password (Django's auth views with our templates), the language choice, the
user's API tokens and, for admins, the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import TokenScope
from dealflow.accounts.selectors import (
    audit_action_list,
    audit_list_for_user,
    token_get_for_user,
    token_list_for_user,
    user_is_admin,
    user_list_visible,
)
from dealflow.accounts.services import token_create, token_revoke, user_language_set
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.web.forms import form_add_application_error
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403

AUDIT_PAGE = 100


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


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    scope = forms.ChoiceField(label=_("Scope"), choices=TokenScope.choices, initial=TokenScope.READ)
    expires_at = forms.DateTimeField(
        label=_("Expires"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: AuthenticatedRequest) -> HttpResponse:
    """The user's API tokens; a POST creates one and shows its secret once, on this response only."""
    form = TokenForm(request.POST or None)
    secret = None
    if form.is_valid():
        try:
            _, secret = token_create(user=request.user, by=request.user, **form.cleaned_data)
            form = TokenForm()
        except ApplicationError as error:
            form_add_application_error(form, error)
    context = {"form": form, "secret": secret, "tokens": token_list_for_user(user=request.user)}
    return render(request, "web/account/tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke_view(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    """Revoke one of the user's own tokens (someone else's is a 404)."""
    token = token_revoke(token=token_get_for_user(token_id=token_id, user=request.user), by=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return HttpResponseRedirect(reverse("web:tokens"))


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False)
    actor = forms.IntegerField(label=_("Who"), required=False, min_value=1, max_value=2**62)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


@login_required
@require_GET
@permission_errors_as_403
def audit_log(request: AuthenticatedRequest) -> HttpResponse:
    """The audit log, admins only, read-only: filter by action, actor and days."""
    if not user_is_admin(user=request.user):
        raise PermissionDeniedError(_("Only an admin may read the audit log."), field="user")
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = audit_list_for_user(
        user=request.user,
        action=filters.get("action") or None,
        actor_id=filters.get("actor"),
        since=filters.get("since"),
        until=filters.get("until"),
    )[:AUDIT_PAGE]
    context = {
        "form": form,
        "entries": entries,
        "actions": audit_action_list(),
        "actors": user_list_visible(user=request.user).order_by("username"),
        "page_size": AUDIT_PAGE,
    }
    return render(request, "web/account/audit.html", context, status=400 if form.errors else 200)
