from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "dealflow.web"
    label = "web"
