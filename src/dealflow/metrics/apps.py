from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "dealflow.metrics"
    label = "metrics"
