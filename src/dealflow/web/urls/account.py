from django.urls import path

from dealflow.web.views import account

urlpatterns = [
    path("login/", account.SignInView.as_view(), name="login"),
    path("logout/", account.SignOutView.as_view(), name="logout"),
    path("account/password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("account/language/", account.language_set, name="language_set"),
    path("account/tokens/", account.token_list, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", account.token_revoke_view, name="token_revoke"),
    path("audit/", account.audit_log, name="audit_log"),
]
