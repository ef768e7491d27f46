from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "dealflow.forecasting"
    label = "forecasting"
