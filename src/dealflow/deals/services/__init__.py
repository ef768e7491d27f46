"""Writes to the pipeline: every change that matters to history writes its DealEvent in the same transaction."""

from dealflow.deals.services.activities import activity_complete, activity_create, activity_update
from dealflow.deals.services.bulk_edit import BulkEditRefusedError, deal_bulk_edit
from dealflow.deals.services.contents import (
    deal_custom_values_set,
    deal_lines_set,
    deal_tags_add_bulk,
    deal_tags_set,
    lead_custom_values_set,
)
from dealflow.deals.services.deals import (
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
)
from dealflow.deals.services.leads import (
    lead_convert,
    lead_create,
    lead_disqualify,
    lead_qualify,
    lead_update,
)
from dealflow.deals.services.reference import (
    exchange_rate_delete,
    exchange_rate_set,
    lead_source_create,
    lost_reason_create,
    lost_reason_update,
    pipeline_create,
    pipeline_deactivate,
    pipeline_update,
    stage_create,
    stage_deactivate,
    stage_reorder,
    stage_update,
)

__all__ = [
    "BulkEditRefusedError",
    "activity_complete",
    "activity_create",
    "activity_update",
    "deal_bulk_edit",
    "deal_create",
    "deal_custom_values_set",
    "deal_lines_set",
    "deal_mark_lost",
    "deal_mark_won",
    "deal_move_to_stage",
    "deal_reopen",
    "deal_tags_add_bulk",
    "deal_tags_set",
    "deal_update",
    "exchange_rate_delete",
    "exchange_rate_set",
    "lead_convert",
    "lead_create",
    "lead_custom_values_set",
    "lead_disqualify",
    "lead_qualify",
    "lead_source_create",
    "lead_update",
    "lost_reason_create",
    "lost_reason_update",
    "pipeline_create",
    "pipeline_deactivate",
    "pipeline_update",
    "stage_create",
    "stage_deactivate",
    "stage_reorder",
    "stage_update",
]
