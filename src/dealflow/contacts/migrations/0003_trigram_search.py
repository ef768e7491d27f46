"""Trigram indexes (pg_trgm) for the substring searches of the lists, on PostgreSQL only.

The deals list and the leads inbox find rows whose organization name, person's last name or e-mail contains
what was typed (``deals.selectors.text_search_q``); ``icontains`` is ``UPPER(column::text) LIKE UPPER(%s)``,
which a GIN index over the same expression with ``gin_trgm_ops`` answers for three characters or more.
SQLite has no such index; there the search reads the rows (issue #19 measures it).
"""

from django.db import migrations

from dealflow.core.trigram import trigram_indexes_operation

INDEXES = [
    ("contacts_org_name_trgm", "contacts_organization", "name"),
    ("contacts_person_last_name_trgm", "contacts_person", "last_name"),
    ("contacts_person_email_trgm", "contacts_person", "email"),
]


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_trash")]
    operations = [trigram_indexes_operation(indexes=INDEXES)]
