from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "dealflow.products"
    label = "products"
