from django.apps import AppConfig


class ImportersConfig(AppConfig):
    name = "dealflow.importers"
    label = "importers"
