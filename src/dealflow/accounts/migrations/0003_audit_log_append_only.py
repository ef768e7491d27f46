"""The audit log is append-only: the database refuses to change or remove an entry (both engines).

The one change allowed is the actor becoming NULL when a user is deleted (``on_delete=SET_NULL``).
"""

from django.db import migrations

SQLITE_GUARD = [
    """CREATE TRIGGER accounts_auditentry_no_update BEFORE UPDATE OF at, action, target, detail, ip_address
       ON accounts_auditentry
       BEGIN SELECT RAISE(ABORT, 'accounts_auditentry is append-only'); END;""",
    """CREATE TRIGGER accounts_auditentry_no_new_actor BEFORE UPDATE OF actor_id ON accounts_auditentry
       WHEN NEW.actor_id IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'accounts_auditentry is append-only'); END;""",
    """CREATE TRIGGER accounts_auditentry_no_delete BEFORE DELETE ON accounts_auditentry
       BEGIN SELECT RAISE(ABORT, 'accounts_auditentry is append-only'); END;""",
]
SQLITE_UNGUARD = [
    "DROP TRIGGER IF EXISTS accounts_auditentry_no_update;",
    "DROP TRIGGER IF EXISTS accounts_auditentry_no_new_actor;",
    "DROP TRIGGER IF EXISTS accounts_auditentry_no_delete;",
]
POSTGRES_GUARD = [
    """CREATE OR REPLACE FUNCTION accounts_auditentry_refuse_change() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL AND NEW.at = OLD.at AND NEW.action = OLD.action
            AND NEW.target = OLD.target AND NEW.detail::text = OLD.detail::text
            AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address THEN
           RETURN NEW;  -- the actor's user was deleted (SET NULL)
         END IF;
         RAISE EXCEPTION 'accounts_auditentry is append-only (%% refused)', TG_OP;
       END;
       $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER accounts_auditentry_append_only BEFORE UPDATE OR DELETE ON accounts_auditentry
       FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_refuse_change();""",
    """CREATE TRIGGER accounts_auditentry_no_truncate BEFORE TRUNCATE ON accounts_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION accounts_auditentry_refuse_change();""",
]
POSTGRES_UNGUARD = [
    "DROP TRIGGER IF EXISTS accounts_auditentry_no_truncate ON accounts_auditentry;",
    "DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;",
    "DROP FUNCTION IF EXISTS accounts_auditentry_refuse_change();",
]


def guard_audit_log(apps, schema_editor):
    statements = POSTGRES_GUARD if schema_editor.connection.vendor == "postgresql" else SQLITE_GUARD
    for statement in statements:
        schema_editor.execute(statement)


def unguard_audit_log(apps, schema_editor):
    statements = POSTGRES_UNGUARD if schema_editor.connection.vendor == "postgresql" else SQLITE_UNGUARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_rate_limit_counter")]

    operations = [migrations.RunPython(guard_audit_log, unguard_audit_log)]
