from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "dealflow.api"
    label = "api"
