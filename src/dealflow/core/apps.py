from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "dealflow.core"
    label = "core"
