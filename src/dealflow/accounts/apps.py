from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dealflow.accounts"
    label = "accounts"
