"""The approvals app: once Django is ready, it holds edits through consumers' gate, names its
audit entries' requests on their pages, tells an asker how a queued approval ended and keeps the
Administrator role complete."""

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Four-eyes approval"

    def ready(self) -> None:
        # cycle-breaker: Django imports apps.py while it fills the app registry, before a model
        # may be imported; the gate and the entry context lead to models.
        from approvals import gate, receivers, views
        from audit.contexts import register_entry_context
        from consumers.gates import register_edit_gate
        from consumers.signals import queued_push_settled

        # consumers asks the gate which changes of a save wait for approval (consumers/gates.py).
        register_edit_gate(gate.ApprovalGate())
        # An audit entry of a step, or of the push that followed, links to its request.
        register_entry_context(views.request_of_entry)
        # The queue settled the push of an approved change: its asker hears how it ended.
        queued_push_settled.connect(
            receivers.tell_the_asker_about_the_push, dispatch_uid="approvals-push-settled"
        )
