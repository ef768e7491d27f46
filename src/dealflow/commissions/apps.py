from django.apps import AppConfig


class CommissionsConfig(AppConfig):
    name = "dealflow.commissions"
    label = "commissions"
