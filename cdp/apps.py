from django.apps import AppConfig


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = "Sitecore CDP"

    def ready(self) -> None:
        from audit.labels import register_field_labels
        from cdp import checks  # noqa: F401  (registers the system checks)
        from cdp.models import FIELD_LABELS

        # The audit log shows a connection's audited fields by these names.
        register_field_labels("CDP connection", FIELD_LABELS)
