# A cached consumer remembers when CDP last could not be asked about it, and why ("Not checked").

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0012_conflict_history_and_cdp_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderconsumer",
            name="fetch_error",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="orderconsumer",
            name="fetch_failed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
