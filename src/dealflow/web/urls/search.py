from django.urls import path

from dealflow.web.views import saved_views, search

urlpatterns = [
    path("search/", search.search, name="search"),
    path("search/open/<slug:kind>/<int:object_id>/", search.search_open, name="search_open"),
    path("deals/views/", saved_views.saved_view_create, name="saved_view_create"),
    path("deals/views/<int:view_id>/", saved_views.saved_view_open, name="saved_view_open"),
    path("deals/views/<int:view_id>/delete/", saved_views.saved_view_remove, name="saved_view_delete"),
]
