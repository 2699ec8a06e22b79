# Django names the models in the admin: "pushes" and "bulk refreshes", not "pushs".

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0010_bulk_refresh_progressed_at"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="bulkrefresh",
            options={"ordering": ["-created_at"], "verbose_name_plural": "bulk refreshes"},
        ),
        migrations.AlterModelOptions(
            name="push",
            options={
                "ordering": ["-created_at"],
                "permissions": [("manage_push", "Can retry or cancel queued edits")],
                "verbose_name_plural": "pushes",
            },
        ),
    ]
