"""Import wizard and exports (views: web/views/imports.py)."""

from django.urls import path

from dealflow.web.views import imports

urlpatterns = [
    path("imports/", imports.import_start, name="import_start"),
    path("imports/<int:job_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:job_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:job_id>/options/", imports.import_options, name="import_options"),
    path("imports/<int:job_id>/confirm/", imports.import_confirm, name="import_confirm"),
    path("imports/<int:job_id>/mapping/", imports.import_mapping_save_view, name="import_mapping_save"),
    path("imports/<int:job_id>/delete/", imports.import_delete, name="import_delete"),
    path("imports/<int:job_id>/retry/", imports.import_retry, name="import_retry"),
    path("imports/<int:job_id>/rejected.csv", imports.import_rejects, name="import_rejects"),
    path("deals/export/", imports.deal_export, name="deal_export"),
    path("export/<slug:entity>/", imports.export, name="export"),
]
