"""What a deal holds (web/views/contents.py) and its settings (web/views/catalogue.py)."""

from django.urls import path

from dealflow.web.views import catalogue, contents

urlpatterns = [
    path("deals/<int:deal_id>/lines/", contents.deal_lines_update, name="deal_lines_update"),
    path("deals/<int:deal_id>/fields/", contents.deal_custom_values_update, name="deal_custom_values_update"),
    path("deals/<int:deal_id>/tags/", contents.deal_tags_update, name="deal_tags_update"),
    path("deals/<int:deal_id>/quotes/", contents.deal_quote_create, name="deal_quote_create"),
    path("quotes/<int:quote_id>/<str:action>/", contents.quote_action, name="quote_action"),
    path("quotes/<int:quote_id>/document.<str:kind>", contents.quote_document, name="quote_document"),
    path("settings/products/", catalogue.settings_products, name="settings_products"),
    path(
        "settings/products/<int:product_id>/",
        catalogue.settings_product_update,
        name="settings_product_update",
    ),
    path("settings/custom-fields/", catalogue.settings_custom_fields, name="settings_custom_fields"),
    path(
        "settings/custom-fields/<int:field_id>/",
        catalogue.settings_custom_field_update,
        name="settings_custom_field_update",
    ),
    path("settings/quote-rules/", catalogue.settings_quote_rules, name="settings_quote_rules"),
    path(
        "settings/quote-rules/<int:pipeline_id>/",
        catalogue.settings_quote_rule_update,
        name="settings_quote_rule_update",
    ),
]
