"""The trash: delete, restore (the Undo button) and purge any record, and the trash page."""

from django.urls import path

from dealflow.web.views import trash

urlpatterns = [
    path("trash/", trash.trash_page, name="trash"),
    path("trash/<slug:kind>/<int:record_id>/delete/", trash.record_delete, name="trash_delete"),
    path("trash/<slug:kind>/<int:record_id>/restore/", trash.record_restore, name="trash_restore"),
    path("trash/<slug:kind>/<int:record_id>/purge/", trash.record_purge, name="trash_purge"),
]
