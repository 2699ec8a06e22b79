"""What consumers announces to whoever listens from above (apps that consumers may not import).

`queued_push_settled` is sent, inside the settling transaction, when the queue settles an edit
(succeeded, failed or conflict) after its author left the page; consumers itself tells the author
(pushes._notify_settled). Approvals listens: a push that carried an approved request tells the
agent who asked for it too. A signal rather than a registry (compare consumers.gates): nothing
waits for an answer, and any number of listeners, or none, is right.
"""

from django.dispatch import Signal

# Sent with push=<consumers.models.Push>, status=<Push.Status>.
queued_push_settled = Signal()
