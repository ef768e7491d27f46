from django.urls import path

from dealflow.web.views import activities as activity_views
from dealflow.web.views import contacts

urlpatterns = [
    path("organizations/", contacts.organization_list, name="organization_list"),
    path("organizations/new/", contacts.organization_create_view, name="organization_create"),
    path("organizations/autocomplete/", contacts.organization_autocomplete, name="organization_autocomplete"),
    path("organizations/<int:organization_id>/", contacts.organization_detail, name="organization_detail"),
    path("organizations/<int:organization_id>/edit/", contacts.organization_edit, name="organization_edit"),
    path(
        "organizations/<int:organization_id>/activities/",
        contacts.organization_activity_create,
        name="organization_activity_create",
    ),
    path("persons/", contacts.person_list, name="person_list"),
    path("persons/new/", contacts.person_create_view, name="person_create"),
    path("persons/autocomplete/", contacts.person_autocomplete, name="person_autocomplete"),
    path("persons/<int:person_id>/", contacts.person_detail, name="person_detail"),
    path("persons/<int:person_id>/edit/", contacts.person_edit, name="person_edit"),
    path(
        "persons/<int:person_id>/activities/", contacts.person_activity_create, name="person_activity_create"
    ),
    path(
        "organizations/<int:organization_id>/merge/",
        contacts.organization_merge_view,
        name="organization_merge",
    ),
    path("persons/<int:person_id>/merge/", contacts.person_merge_view, name="person_merge"),
    path("merges/", contacts.merge_list, name="merge_list"),
    path("activities/new/", activity_views.activity_quick_create, name="activity_quick_create"),
    path("persons/<int:person_id>/export/", contacts.person_export_view, name="person_export"),
    path("persons/<int:person_id>/erase/", contacts.person_erase_view, name="person_erase"),
]
