from django.db import migrations, models


def link_pending_entries(apps, schema_editor):
    """Point each queued push at the pending entry its first queueing wrote, where one is found.

    Before this field, a queued push was matched to its pending entry by consumer, request and
    time; the same match, made once here, carries the pushes already queued across.
    """
    Push = apps.get_model("consumers", "Push")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    queued = Push.objects.filter(queued_at__isnull=False, pending_entry_id__isnull=True)
    for push in queued.iterator():
        entry = (
            AuditEntry.objects.filter(
                action__in=("edit", "revert"),
                outcome="pending",
                consumer_ref=push.consumer_ref,
                request_id=push.request_id,
                action_time__gte=push.created_at,
            )
            .order_by("sequence")
            .values_list("pk", flat=True)
            .first()
        )
        if entry is not None:
            Push.objects.filter(pk=push.pk).update(pending_entry_id=entry)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_supersedes"),
        ("consumers", "0014_push_wake_up"),
    ]

    operations = [
        migrations.AddField(
            model_name="push",
            name="pending_entry_id",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(link_pending_entries, migrations.RunPython.noop),
    ]
