from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "dealflow.deals"
    label = "deals"
