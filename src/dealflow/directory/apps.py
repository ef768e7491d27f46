from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "dealflow.directory"
    label = "directory"
    verbose_name = "Directory"
