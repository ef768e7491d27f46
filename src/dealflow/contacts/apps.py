from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "dealflow.contacts"
    label = "contacts"
