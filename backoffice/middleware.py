import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from cdp import transport
from cdp.connection import connection_scope
from core.logging import CLIENT_IP_ENVIRON_KEY, bind_request_id
from core.proxies import behind_trusted_proxies, client_ip

# An incoming id from a trusted proxy is kept only if it is short and harmless in logs and headers.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (`request.id`), echoed in the `X-Request-ID` response header.

    Log lines made while answering carry the id and the client's address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without a proxy of ours in front, the header was written by the client, who must not
        # choose the id its actions are audited and traced under.
        incoming = request.headers.get("X-Request-ID", "") if behind_trusted_proxies() else ""
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        # Read by RequestMeta.from_request for the audit log; HttpRequest declares no such field.
        request.id = request_id  # type: ignore[attr-defined]
        address = client_ip(request)
        request.META[CLIENT_IP_ENVIRON_KEY] = address or "-"
        # Every log line and CDP call made while answering carries the id (core.logging).
        with bind_request_id(request_id, client_ip=address):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class CDPPageBudgetMiddleware:
    """Bound the time one page may spend waiting for CDP, however many calls it makes.

    The page also looks the CDP connection up once, not once per call.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with transport.deadline(settings.CDP_PAGE_BUDGET), connection_scope():
            return self.get_response(request)


class NoStoreMiddleware:
    """Keep pages out of browser and proxy caches: they show personal data (ASVS 14.3.2).

    Static files are served before this runs (WhiteNoise) and keep their long cache lifetime.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response
