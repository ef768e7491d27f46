from django.apps import AppConfig


class CustomFieldsConfig(AppConfig):
    name = "dealflow.customfields"
    label = "customfields"
