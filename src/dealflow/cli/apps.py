from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "dealflow.cli"
    label = "cli"
