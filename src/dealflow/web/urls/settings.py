"""Admin settings (web/views/settings.py): pipelines and stages, lost reasons, exchange rates, users."""

from django.urls import path

from dealflow.web.views import settings as views

urlpatterns = [
    path("settings/", views.settings_home, name="settings"),
    path("settings/pipelines/new/", views.settings_pipeline_create, name="settings_pipeline_create"),
    path("settings/pipelines/<int:pipeline_id>/", views.settings_pipeline, name="settings_pipeline"),
    path(
        "settings/pipelines/<int:pipeline_id>/edit/",
        views.settings_pipeline_update,
        name="settings_pipeline_update",
    ),
    path(
        "settings/pipelines/<int:pipeline_id>/stages/new/",
        views.settings_stage_create,
        name="settings_stage_create",
    ),
    path("settings/stages/<int:stage_id>/edit/", views.settings_stage_update, name="settings_stage_update"),
    path("settings/stages/<int:stage_id>/move/", views.settings_stage_move, name="settings_stage_move"),
    path(
        "settings/stages/<int:stage_id>/retire/",
        views.settings_stage_deactivate,
        name="settings_stage_deactivate",
    ),
    path("settings/lost-reasons/", views.settings_lost_reasons, name="settings_lost_reasons"),
    path(
        "settings/lost-reasons/<int:reason_id>/",
        views.settings_lost_reason_update,
        name="settings_lost_reason_update",
    ),
    path("settings/exchange-rates/", views.settings_exchange_rates, name="settings_exchange_rates"),
    path("settings/users/", views.settings_users, name="settings_users"),
    path(
        "settings/users/<int:user_id>/membership/",
        views.settings_membership_set,
        name="settings_membership_set",
    ),
    path(
        "settings/users/<int:user_id>/teams/<int:team_id>/remove/",
        views.settings_membership_remove,
        name="settings_membership_remove",
    ),
    path("settings/teams/new/", views.settings_team_create, name="settings_team_create"),
]
