"""Writes of pipeline reviews: start (freeze the snapshot), decide and adjust, finish, weekly series."""

from dealflow.reviews.services.decisions import (
    decision_params_clean,
    review_decision_apply,
    review_decision_record,
    review_decisions_bulk,
)
from dealflow.reviews.services.reviews import (
    review_finish,
    review_series_stop,
    review_start,
    reviews_start_due,
)

__all__ = [
    "decision_params_clean",
    "review_decision_apply",
    "review_decision_record",
    "review_decisions_bulk",
    "review_finish",
    "review_series_stop",
    "review_start",
    "reviews_start_due",
]
