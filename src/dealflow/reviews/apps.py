from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "dealflow.reviews"
    label = "reviews"
