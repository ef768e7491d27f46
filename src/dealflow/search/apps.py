from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "dealflow.search"
    label = "search"
    verbose_name = "Search"
