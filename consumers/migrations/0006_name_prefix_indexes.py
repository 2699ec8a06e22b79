"""Indexes for the search by the start of a name, on PostgreSQL.

The search matches `UPPER(name) LIKE 'PREFIX%'` (Django's `istartswith`); PostgreSQL uses an index
for that only when the index is on the same expression with `text_pattern_ops`. SQLite, the
single-user default, scans the table, which is fast enough at its sizes.
"""

from django.db import migrations

INDEXES = {
    "consumer_last_name_prefix_idx": "last_name",
    "consumer_first_name_prefix_idx": "first_name",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "consumers_orderconsumer" '
            f'(UPPER("{column}"::text) text_pattern_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("consumers", "0005_consumer_last_viewed_at")]

    operations = [migrations.RunPython(create, drop)]
