"""Log lines that can be parsed, traced to one request, and hold no secret or personal data.

OWASP ASVS 5.0 V16: every line says when (UTC), how bad, where (the logger), what, for which
request (`request_id`: the id in the `X-Request-ID` response header, the audit entry and the
header sent to CDP) and from where (`client_ip`: the address the audit entry records), as one
JSON object per line (16.2.1, 16.2.4). JSON escapes line breaks and
control characters, so a value cannot forge a line (16.4.1). Before any handler writes, a filter
masks credentials (the `Authorization` header, Basic and Bearer values, the CDP API tokens in use),
e-mail addresses, phone numbers and passport numbers (16.2.5). UUID refs, request ids, times and
IP addresses stay readable, so a line can still be traced.

Personal names cannot be told from other words by a pattern, so the app's own log calls never
include record content: they log refs, ids, statuses and error classes (see `error_summary`),
never a name, a field's value or CDP's error message, which may quote the record.
"""

import contextvars
import json
import logging
import re
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

NO_REQUEST = "-"
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)
_client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default=NO_REQUEST)
# Where the request id middleware leaves the client's address in the WSGI environ: for the lines
# Django writes about a request after the middleware is done, and for gunicorn's access log
# (`%({core.client_ip}e)s`, backoffice/launch/serve.py).
CLIENT_IP_ENVIRON_KEY = "core.client_ip"


def current_request_id() -> str:
    """Return the id of the request (or queued edit) being handled, or "-" outside one."""
    return _request_id.get()


@contextmanager
def bind_request_id(request_id: str | None, *, client_ip: str | None = None) -> Iterator[None]:
    """Tag every log line and CDP call made inside the block with `request_id` (and `client_ip`)."""
    token = _request_id.set(request_id or NO_REQUEST)
    address = _client_ip.set(client_ip or NO_REQUEST)
    try:
        yield
    finally:
        _client_ip.reset(address)
        _request_id.reset(token)


def error_summary(error: BaseException) -> str:
    """Describe an error for a log line by its kind and HTTP status, never by its message."""
    status = getattr(error, "status", None)
    fields = getattr(error, "error_dict", None)
    detail = f" HTTP {status}" if isinstance(status, int) else ""
    if isinstance(fields, dict):
        detail += f" on {', '.join(sorted(fields))}"
    return type(error).__name__ + detail


# --- secrets known by value -------------------------------------------------------------------

# Shorter values would mask ordinary words; real API tokens are far longer.
_MIN_SECRET_LENGTH = 8
_MAX_SECRETS = 32
_secrets: dict[str, None] = {}  # insertion-ordered, so the oldest is dropped first
_secrets_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Mask `value` in every log line from now on (the CDP client calls this with its token)."""
    if not isinstance(value, str) or len(value) < _MIN_SECRET_LENGTH or value in _secrets:
        return
    with _secrets_lock:
        _secrets[value] = None
        while len(_secrets) > _MAX_SECRETS:
            del _secrets[next(iter(_secrets))]


def _known_secrets() -> list[str]:
    values = list(_secrets)
    try:
        from django.conf import settings

        # Read per line (an attribute look-up), so a token changed in settings is masked at once.
        values.append(settings.CDP_API_TOKEN)
    except Exception:  # settings not configured: nothing more to mask
        pass
    # Longest first, so a token that contains another is masked whole.
    known = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LENGTH}
    return sorted(known, key=len, reverse=True)


# --- patterns ---------------------------------------------------------------------------------

_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+")
_SCHEME_CREDENTIALS = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# Kept as they are: UUID refs, ISO dates and times, IPv4 addresses, hex ids (request ids).
_READABLE = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"
    r"|(?<![\w-])[0-9a-f]{32}(?![\w-])"
)
# A digit run with optional +, spaces, dots, dashes and brackets (see _mask_phone).
_PHONE = re.compile(r"(?<![\w+(])[+(]?\d[\d ().-]{5,24}\d(?!\w)")
# Letters then digits (PIE470000, P1234567), or 8-9 capitals and digits with both (C01X00T47).
_PASSPORT = re.compile(
    r"(?<![\w-])(?:[A-Za-z]{1,3}\d{6,9}"
    r"|(?=[A-Z\d]{8,9}(?![\w-]))(?=\d*[A-Z])(?=(?:[A-Z]*\d){4})[A-Z\d]{8,9})(?![\w-])"
)

TOKEN_MASK = "[redacted token]"
_CREDENTIALS_MASK = "[redacted credentials]"
_EMAIL_MASK = "[redacted e-mail]"
_PHONE_MASK = "[redacted phone]"
_PASSPORT_MASK = "[redacted passport]"


def _mask_phone(match: re.Match) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    # Written as a phone number (+353 ..., 087 ..., (01) ...), or too long to be a count or a size.
    looks_dialled = text[0] in "+0("
    return _PHONE_MASK if (7 if looks_dialled else 9) <= digits <= 15 else text


def _mask_fragment(text: str) -> str:
    text = _PASSPORT.sub(_PASSPORT_MASK, text)
    return _PHONE.sub(_mask_phone, text)


def redact(text: str) -> str:
    """Mask credentials, tokens, e-mail addresses, phone and passport numbers in `text`."""
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, TOKEN_MASK)
    text = _AUTHORIZATION.sub(rf"\1{_CREDENTIALS_MASK}", text)
    text = _SCHEME_CREDENTIALS.sub(rf"\1 {_CREDENTIALS_MASK}", text)
    if "@" in text:
        text = _EMAIL.sub(_EMAIL_MASK, text)
    parts, position = [], 0
    for match in _READABLE.finditer(text):
        parts.append(_mask_fragment(text[position : match.start()]))
        parts.append(match.group())
        position = match.end()
    parts.append(_mask_fragment(text[position:]))
    return "".join(parts)


# --- filters and formatters -------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Add `request_id` and `client_ip` to every record: the current request's, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx or 5xx after the middleware is done, with the request attached.
        attached = getattr(record, "request", None)
        if not isinstance(getattr(record, "request_id", None), str):
            request_id: object = _request_id.get()
            if request_id == NO_REQUEST:
                request_id = getattr(attached, "id", None)
            record.request_id = request_id if isinstance(request_id, str) else NO_REQUEST
        if not isinstance(getattr(record, "client_ip", None), str):
            address: object = _client_ip.get()
            if address == NO_REQUEST:
                environ = getattr(attached, "META", None)
                address = environ.get(CLIENT_IP_ENVIRON_KEY) if isinstance(environ, dict) else None
            record.client_ip = address if isinstance(address, str) else NO_REQUEST
        return True


class RedactingFilter(logging.Filter):
    """Mask secrets and personal data in a record's message, arguments and traceback, in place.

    In place, so no handler that runs after it sees the raw values; it never drops a record and
    never raises: a record it cannot clean is replaced by a notice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            try:
                message = record.getMessage()
            except Exception:  # arguments that do not fit the format: keep both, masked
                message = f"{record.msg} {record.args!r}"
            record.msg, record.args = redact(str(message)), None
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        except Exception:
            record.msg, record.args = "[log message withheld: it could not be redacted]", None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def _utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, client_ip, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
            "client_ip": getattr(record, "client_ip", NO_REQUEST),
        }
        status_code = getattr(record, "status_code", None)  # set by django.request's records
        if isinstance(status_code, int):
            entry["status_code"] = status_code
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # ASCII only: no character in a value can end the line early, not even U+2028.
        return json.dumps(entry, ensure_ascii=True, default=str)


class PlainFormatter(logging.Formatter):
    """A readable line for development (LOG_FORMAT=plain), with control characters escaped."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None):
        super().__init__(
            fmt or "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            datefmt,
            defaults={"request_id": NO_REQUEST},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _LINE_BREAKING.sub(_escaped, record.message)
        return super().formatMessage(record)


# Control characters and whatever a reader may take for the end of a line.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")
