"""The names' search keys (consumers.search): three indexed columns, filled for every cached
consumer with the same function the search uses; the UPPER(name) indexes of 0006 go."""

from django.db import migrations, models

from consumers.search import name_keys

OLD_INDEXES = {
    "consumer_last_name_prefix_idx": "last_name",
    "consumer_first_name_prefix_idx": "first_name",
}


def fill_keys(apps, schema_editor):
    OrderConsumer = apps.get_model("consumers", "OrderConsumer")
    rows = OrderConsumer.objects.only("pk", "first_name", "last_name").order_by("pk")
    batch = []
    for consumer in rows.iterator(chunk_size=2000):
        for column, key in name_keys(consumer.first_name, consumer.last_name).items():
            setattr(consumer, column, key)
        batch.append(consumer)
        if len(batch) == 2000:
            OrderConsumer.objects.bulk_update(batch, ["first_key", "last_key", "name_key"])
            batch = []
    OrderConsumer.objects.bulk_update(batch, ["first_key", "last_key", "name_key"])


# Per way a query matches (consumers.services._BRANCHES): the prefix column, then the order of
# the results. Byte order (COLLATE "C"), whatever the database's collation, so one index serves
# both LIKE 'key%' and the ORDER BY, and a search stops after its first rows.
SEARCH_INDEXES = {
    "consumer_last_key_idx": ("last_key", "first_key", "ref"),
    "consumer_first_key_idx": ("first_key", "last_key", "ref"),
    "consumer_name_key_idx": ("name_key", "ref"),
}


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite, the single-user default, scans: fast enough at its sizes
    for name, columns in SEARCH_INDEXES.items():
        expressions = ", ".join(f'("{column}" COLLATE "C")' for column in columns)
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "consumers_orderconsumer" ({expressions})'
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in SEARCH_INDEXES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def drop_old_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in OLD_INDEXES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_old_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, column in OLD_INDEXES.items():
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "consumers_orderconsumer" '
                f'(UPPER("{column}"::text) text_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0016_notifications"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderconsumer",
            name="first_key",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="orderconsumer",
            name="last_key",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="orderconsumer",
            name="name_key",
            field=models.CharField(blank=True, editable=False, max_length=510),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.RunPython(drop_old_indexes, create_old_indexes),
        migrations.RunPython(create_search_indexes, drop_search_indexes),
    ]
