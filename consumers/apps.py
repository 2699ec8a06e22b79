"""The consumers app: once Django is ready, it names its audited fields, offers reverts on the
audit log's entries and connects its receivers."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from accounts.roles import grant_administrators_every_permission
from audit.contexts import register_entry_context
from audit.labels import register_field_labels
from cdp.resilience import cdp_answered_again


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Order consumers"

    def ready(self) -> None:
        # cycle-breaker: Django imports apps.py while it fills the app registry, before a model
        # may be imported; receivers and views lead to models, records to the CDP client.
        from consumers import receivers, records, services
        from consumers.views import revert

        # The audit log shows the fields an agent edits by these names, and an entry's page
        # offers to revert the change it records.
        register_field_labels("Order consumer", records.LABELS)
        register_entry_context(revert.revert_offer)
        register_entry_context(services.audit_entry_names)

        post_migrate.connect(
            grant_administrators_every_permission, dispatch_uid="administrator-permissions"
        )
        # When CDP answers again, queued edits go at once rather than at their next backoff slot.
        cdp_answered_again.connect(receivers.wake_the_queue, dispatch_uid="wake-the-queue")
