from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "dealflow.people"
    label = "people"
