from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Order consumers"

    def ready(self):
        from backoffice.roles import grant_administrators_every_permission

        post_migrate.connect(
            grant_administrators_every_permission, dispatch_uid="administrator-permissions"
        )
