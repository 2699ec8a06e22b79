from dataclasses import dataclass

from django.db import transaction

from audit.models import AuditEntry, FieldChange


@dataclass(frozen=True)
class RequestMeta:
    """Where an action came from: the request's IP address, user agent and id."""

    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def from_request(cls, request) -> "RequestMeta":
        return cls(
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=getattr(request, "id", ""),
        )


def audit_entry_create(
    *,
    user,
    meta: RequestMeta,
    action: str,
    outcome: str,
    consumer_ref: str = "",
    order_ref: str = "",
    object_repr: str = "",
    changes: dict[str, tuple[str, str]] | None = None,
    cdp_status: int | None = None,
    cdp_message: str = "",
) -> AuditEntry:
    """Write one audit entry with a row per changed field (`changes` is {field: (old, new)})."""
    with transaction.atomic():
        entry = AuditEntry.objects.create(
            user=user,
            username=user.get_username(),
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            request_id=meta.request_id,
            action=action,
            consumer_ref=consumer_ref,
            order_ref=order_ref,
            object_repr=object_repr[:200],
            outcome=outcome,
            cdp_status=cdp_status,
            cdp_message=cdp_message,
        )
        FieldChange.objects.bulk_create(
            FieldChange(entry=entry, field=field, old_value=old, new_value=new)
            for field, (old, new) in (changes or {}).items()
        )
    return entry
