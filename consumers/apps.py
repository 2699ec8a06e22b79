from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Order consumers"

    def ready(self):
        from accounts.roles import grant_administrators_every_permission
        from audit.labels import register_field_labels
        from consumers import records

        # The audit log shows the fields an agent edits by these names.
        register_field_labels("Order consumer", records.LABELS)

        post_migrate.connect(
            grant_administrators_every_permission, dispatch_uid="administrator-permissions"
        )
        from cdp.resilience import cdp_answered_again
        from consumers.receivers import wake_the_queue

        # When CDP answers again, queued edits go at once rather than at their next backoff slot.
        cdp_answered_again.connect(wake_the_queue, dispatch_uid="wake-the-queue")
