from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dealflow.accounts"
    label = "accounts"

    def ready(self) -> None:
        from dealflow.accounts import signals  # noqa: F401  (connects the audit receivers)
