"""Trigram indexes (pg_trgm) on the titles of deals and leads, on PostgreSQL only: the deals list's and the
leads inbox's search is ``UPPER(title::text) LIKE UPPER('%...%')`` (``deals.selectors.text_search_q``),
which a GIN index over the same expression answers; without it every search read all deals (1.4 s at 1M).
SQLite has no such index; there the search reads the rows.
"""

from django.db import migrations

from dealflow.core.trigram import trigram_indexes_operation

INDEXES = [
    ("deals_deal_title_trgm", "deals_deal", "title"),
    ("deals_lead_title_trgm", "deals_lead", "title"),
]


class Migration(migrations.Migration):
    dependencies = [("deals", "0009_lead_monthly_totals")]
    operations = [trigram_indexes_operation(indexes=INDEXES)]
