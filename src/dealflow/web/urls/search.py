from django.urls import path

from dealflow.web.views import search

urlpatterns = [
    path("search/", search.search, name="search"),
    path("search/open/<slug:kind>/<int:object_id>/", search.search_open, name="search_open"),
]
