# A resolved conflict keeps who resolved it, when, the audit entry that followed and CDP's version
# at the time; the admin names the CDP timestamps (not "Cdp created at").

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0011_plural_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="push",
            name="cdp_modified_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="CDP's modifiedAt at the conflict"
            ),
        ),
        migrations.AddField(
            model_name="push",
            name="cdp_values",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="CDP's version at the conflict"
            ),
        ),
        migrations.AddField(
            model_name="push",
            name="resolution_entry_id",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="push",
            name="resolved_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="push",
            name="resolved_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="orderconsumer",
            name="cdp_created_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="created in CDP"),
        ),
        migrations.AlterField(
            model_name="orderconsumer",
            name="cdp_modified_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last changed in CDP"),
        ),
    ]
