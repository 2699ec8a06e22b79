"""What can go wrong when calling CDP: the `CDPError` hierarchy and the kinds of failure.

The bottom layer of the CDP client: it imports nothing else of `cdp`, so every other module
(links, resilience, transport, the endpoints, the apps' services) can raise or catch these.
"""

import enum
from datetime import datetime


class Failure(enum.Enum):
    """What a failed attempt says about whether CDP acted on the request."""

    # No connection was made (refused, connect timeout, unknown host): CDP never saw the request.
    NOT_SENT = "not sent"
    # CDP answered 429 or 503: it declined to take the request, so it did nothing with it.
    DECLINED = "declined"
    # A read timeout, a reset after sending, 502/504 or a garbled reply: it may have been applied.
    AMBIGUOUS = "ambiguous"
    # Repeating would get the same answer (4xx, 500, an unexpected status, a bad base URL).
    FINAL = "final"


class CDPError(Exception):
    """CDP could not do what was asked; `str()` is a message fit to show an agent."""

    # Whether trying the same thing later may work (worth queueing), as opposed to CDP's refusal.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        developer_message: str = "",
        more_info_url: str = "",
        retry_after: float | None = None,
        failure: Failure = Failure.FINAL,
    ) -> None:
        super().__init__(message)
        self.message = message
        # The message without the note on retries the transport adds: what a queued edit shows.
        self.answer = message
        self.status = status
        self.code = code
        self.developer_message = developer_message
        self.more_info_url = more_info_url
        # Seconds CDP asked to wait before the next try (its Retry-After header), if it said.
        self.retry_after = retry_after
        # How many times the call was sent (0: not at all, e.g. the circuit breaker was open).
        self.attempts = 1
        # What the failure says about whether CDP acted on the request (`cdp.resilience`).
        self.failure = failure

    def amend(self, message: str) -> None:
        """Replace the message shown (`answer` keeps what CDP said)."""
        self.message = message
        self.args = (message,)


class CDPUnavailable(CDPError):
    """CDP could not be reached, timed out, was throttling or failed on its side (5xx)."""

    retryable = True


class CDPCircuitOpen(CDPUnavailable):
    """CDP failed so many calls in a row that calls are paused for a while without being sent."""

    def __init__(self, message: str, *, open_until: datetime | None = None) -> None:
        super().__init__(message)
        self.attempts = 0
        self.open_until = open_until


class CDPAuthError(CDPError):
    """CDP refused the client key and API token (401) or the operation (403)."""


class CDPNotFound(CDPError):
    """CDP holds no resource at that ref (404)."""


class CDPRejected(CDPError):
    """CDP refused the request itself, usually a validation error (400, 415 or another 4xx)."""


class CDPHostNotAllowed(CDPError):
    """The connection points at a host CDP_ALLOWED_HOSTS does not list, so nothing was sent.

    Not worth trying again: only an administrator or the operator can change either.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.attempts = 0


class CDPBadResponse(CDPError):
    """CDP answered with something this client does not understand (not JSON, odd status)."""

    # A garbled reply is usually transient, and to an update it leaves the outcome unknown.
    retryable = True


class CDPErased(CDPNotFound):
    """The record belongs to a person who was erased: nothing of theirs is sent, shown or kept.

    A read of such a ref asks CDP only to confirm that the record is gone (its answer is
    dropped); a write is never sent. Not worth trying again.
    """
