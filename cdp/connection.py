"""Which CDP connection applies: the active `CDPConnection` row, else the CDP_* settings.

Inside `connection_scope` (a page, a bulk refresh, a command) it is looked up once and kept in a
context variable, so the calls of one page, and the threads they run in, make one query for it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cdp.errors import CDPAuthError
from cdp.models import CDPConnection
from cdp.transport import Connection

# Inside connection_scope(): the connection looked up for it, once (a list, empty until then).
_scoped_connection: ContextVar[list[Connection] | None] = ContextVar(
    "cdp_scoped_connection", default=None
)


@contextmanager
def connection_scope() -> Iterator[None]:
    """Look the CDP connection up once for everything inside (a page, a bulk refresh).

    Threads started inside must run in a copy of this context (`contextvars.copy_context`) to
    share it; they then make no database query for it.
    """
    if _scoped_connection.get() is not None:
        yield
        return
    token = _scoped_connection.set([])
    try:
        yield
    finally:
        _scoped_connection.reset(token)


def current_connection() -> Connection:
    """Return the CDP connection to use now: the active one in the database, else the settings."""
    memo = _scoped_connection.get()
    if memo:
        return memo[0]
    connection = _load_connection()
    if memo is not None:
        memo.append(connection)
    return connection


def _load_connection() -> Connection:
    record = CDPConnection.objects.filter(is_active=True).first()
    if record is not None:
        try:
            return record.client_connection()
        except ImproperlyConfigured as error:
            # A missing or rotated-away FIELD_ENCRYPTION_KEY: every page says so, none crashes.
            raise CDPAuthError(
                f"The CDP connection “{record.name}” cannot be used: {error} Ask an administrator."
            ) from None
    return Connection(
        base_url=settings.CDP_BASE_URL.rstrip("/"),
        client_key=settings.CDP_CLIENT_KEY,
        api_token=settings.CDP_API_TOKEN,
        connect_timeout=settings.CDP_CONNECT_TIMEOUT,
        read_timeout=settings.CDP_TIMEOUT,
        api_version=settings.CDP_API_VERSION,
    )
