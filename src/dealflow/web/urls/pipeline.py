from django.urls import path

from dealflow.web.views import board

urlpatterns = [
    path("", board.board, name="home"),
    path("board/stages/<int:stage_id>/cards/", board.board_column, name="board_column"),
    path("board/deals/<int:deal_id>/move/", board.board_move, name="board_move"),
    path("board/deals/<int:deal_id>/undo/", board.board_undo, name="board_undo"),
    path("board/deals/<int:deal_id>/activity/", board.board_activity, name="board_activity"),
    path("forecast-board/", board.forecast_board, name="forecast_board"),
    path(
        "forecast-board/columns/<slug:column_key>/cards/",
        board.forecast_board_column,
        name="forecast_board_column",
    ),
    path("forecast-board/deals/<int:deal_id>/move/", board.forecast_board_move, name="forecast_board_move"),
]

# Deals list, deal page, leads inbox and my activities (C2). Views: web/views/{deals,deal,leads,activities}.py
from dealflow.web.views import activities as activity_views  # noqa: E402
from dealflow.web.views import deal as deal_views  # noqa: E402
from dealflow.web.views import deals as deal_list_views  # noqa: E402
from dealflow.web.views import leads as lead_views  # noqa: E402

urlpatterns += [
    path("deals/", deal_list_views.deal_list, name="deal_list"),
    path("deals/bulk/", deal_list_views.deal_bulk, name="deal_bulk"),
    path("deals/new/", deal_views.deal_create_view, name="deal_create"),
    path("deals/<int:deal_id>/", deal_views.deal_detail, name="deal_detail"),
    path("deals/<int:deal_id>/fields/<slug:field>/", deal_views.deal_field_update, name="deal_field_update"),
    path("deals/<int:deal_id>/stage/", deal_views.deal_stage_update, name="deal_stage_update"),
    path("deals/<int:deal_id>/won/", deal_views.deal_mark_won_view, name="deal_mark_won"),
    path("deals/<int:deal_id>/lost/", deal_views.deal_mark_lost_view, name="deal_mark_lost"),
    path("deals/<int:deal_id>/reopen/", deal_views.deal_reopen_view, name="deal_reopen"),
    path("deals/<int:deal_id>/activities/", deal_views.deal_activity_create, name="deal_activity_create"),
    path("leads/", lead_views.lead_inbox, name="lead_inbox"),
    path("leads/new/", lead_views.lead_create_view, name="lead_create"),
    path("leads/<int:lead_id>/checklist/", lead_views.lead_checklist, name="lead_checklist"),
    path("leads/<int:lead_id>/convert/", lead_views.lead_convert_view, name="lead_convert"),
    path("leads/<int:lead_id>/disqualify/", lead_views.lead_disqualify_view, name="lead_disqualify"),
    path("activities/", activity_views.my_activities, name="my_activities"),
    path("activities/<int:activity_id>/done/", activity_views.activity_done, name="activity_done"),
]
