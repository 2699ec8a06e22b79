# A queued edit may be woken (a free try ahead of its slot) and waits for a lost update to land.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0013_consumer_not_checked"),
    ]

    operations = [
        migrations.AddField(
            model_name="push",
            name="not_before",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="push",
            name="woken_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
