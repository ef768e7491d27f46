from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "dealflow.tags"
    label = "tags"
