"""The privacy app: a person's rights over their data, as CDP's docs put them on the company."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"
