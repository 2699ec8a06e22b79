import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create_or_count

logger = logging.getLogger("backoffice.security")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Render the 403 page, logging and auditing who was refused what."""
    user = request.user
    logger.warning(
        "permission denied: user=%s method=%s path=%s",
        user.get_username() if user.is_authenticated else "(anonymous)",
        request.method,
        request.path,
    )
    if user.is_authenticated:
        # A page can be asked for again and again: repeats are counted, not each an entry.
        audit_entry_create_or_count(
            user=user,
            meta=RequestMeta.from_request(request),
            action=AuditEntry.Action.PERMISSION_DENIED,
            outcome=AuditEntry.Outcome.FAILED,
            object_repr=f"{request.method} {request.path}"[:200],
        )
    response = render(request, "403.html", status=403)
    # The line above is the record of this refusal. Django would log a second one, with the
    # PermissionDenied traceback, unless the response says it has been logged already.
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag, no API
    return response
