from django.apps import AppConfig


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = "Sitecore CDP"

    def ready(self):
        from cdp import checks  # noqa: F401  (registers the system checks)
