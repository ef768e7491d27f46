"""Pipeline reviews: the list and start form, the review, the deal cards, decisions, what-if, the report."""

from django.urls import path

from dealflow.web.views import reviews

urlpatterns = [
    path("reviews/", reviews.review_list, name="review_list"),
    path("reviews/start/", reviews.review_start, name="review_start"),
    path("reviews/<int:review_id>/", reviews.review_detail, name="review_detail"),
    path("reviews/<int:review_id>/deals/<int:deal_id>/", reviews.review_deal, name="review_deal"),
    path("reviews/<int:review_id>/deals/<int:deal_id>/decide/", reviews.review_decide, name="review_decide"),
    path(
        "reviews/<int:review_id>/deals/<int:deal_id>/what-if/", reviews.review_what_if, name="review_what_if"
    ),
    path(
        "reviews/<int:review_id>/decisions/<int:decision_id>/apply/",
        reviews.review_decision_apply,
        name="review_decision_apply",
    ),
    path(
        "reviews/<int:review_id>/waterfall/<str:bar>/",
        reviews.review_waterfall_items,
        name="review_waterfall_items",
    ),
    path("reviews/<int:review_id>/bulk/", reviews.review_bulk, name="review_bulk"),
    path("reviews/<int:review_id>/finish/", reviews.review_finish, name="review_finish"),
    path("reviews/<int:review_id>/report/", reviews.review_report, name="review_report"),
    path("reviews/<int:review_id>/report.<str:export_format>", reviews.review_export, name="review_export"),
    path("reviews/deals/<int:deal_id>/", reviews.review_deal_history, name="review_deal_history"),
    path("reviews/series/<int:series_id>/stop/", reviews.review_series_stop, name="review_series_stop"),
]
