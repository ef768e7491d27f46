from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "dealflow.quotes"
    label = "quotes"
