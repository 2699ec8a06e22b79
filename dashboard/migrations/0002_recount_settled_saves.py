"""Forget the daily totals counted before queued saves were counted once, as they ended.

They counted a queued save's pending entry and its final entry both. The totals are derived
data: the dashboard counts each day again, under the new rule, the next time it shows it.
"""

from django.db import migrations


def forget_totals(apps, schema_editor):
    for name in ("DailySaves", "DailyFieldChanges", "RolledUpDay"):
        apps.get_model("dashboard", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_daily_totals")]

    operations = [migrations.RunPython(forget_totals, migrations.RunPython.noop)]
