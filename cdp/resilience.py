"""When to repeat a failed call to CDP, how long to wait, and when to stop calling it for a while.

No HTTP here: `cdp.transport` makes the calls and asks this module what to do about a failure. The
backoff is AWS's full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)
and the breaker is Martin Fowler's (https://martinfowler.com/bliki/CircuitBreaker.html).
"""

import hashlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.dispatch import Signal

from cdp.errors import Failure

logger = logging.getLogger(__name__)

# Sent by `Breaker.record_success` when a call succeeds after failed ones: the breaker's trial
# call after the cool-off (`was_open`), or any call once `failures` calls in a row had failed;
# `method` is the successful call's. Sent once per recovery, by the call that cleared the count,
# in the calling thread. This module knows nothing of what waits for CDP: receivers do (the
# queue of edits, connected in consumers/apps.py). A receiver's error is logged, never raised.
cdp_answered_again = Signal()


def should_retry(method: str, failure: Failure) -> bool:
    """Say whether an attempt that failed this way may be repeated at once by the client."""
    if failure is Failure.FINAL:
        return False
    if method == "GET":
        return True
    # A write is repeated only when CDP surely did not act on it. After an ambiguous failure the
    # update may already be in CDP, and something (another agent, a revert) may have changed the
    # record since: the caller re-reads it and decides, which the client cannot do.
    return failure in (Failure.NOT_SENT, Failure.DECLINED)


def retry_at_once(status: int | None, retry_after: float | None) -> bool:
    """Say whether the first retry goes at once rather than after a backoff.

    CDP's advice for a 503 is "Try again immediately as servers are clustered" (the REST API's
    response-codes page): the next attempt likely reaches another server. Only once, so a CDP
    that is down as a whole still gets the backoff; and not when CDP said when to come back.
    """
    return status == 503 and retry_after is None


@dataclass(frozen=True)
class Policy:
    """How many times a call is tried, how long to back off, and the most one call may take."""

    attempts: int
    backoff: float
    backoff_max: float
    budget: float
    breaker_threshold: int
    breaker_cooldown: float

    @classmethod
    def from_settings(cls) -> "Policy":
        """Read the policy from the settings now (tests and deployments change them)."""
        return cls(
            attempts=max(1, int(settings.CDP_RETRY_ATTEMPTS)),
            backoff=max(0.0, float(settings.CDP_RETRY_BACKOFF)),
            backoff_max=max(0.0, float(settings.CDP_RETRY_BACKOFF_MAX)),
            budget=max(0.0, float(settings.CDP_CALL_BUDGET)),
            breaker_threshold=max(1, int(settings.CDP_BREAKER_THRESHOLD)),
            breaker_cooldown=max(0.0, float(settings.CDP_BREAKER_COOLDOWN)),
        )


class Uniform(Protocol):
    """What the backoff draws its jitter from: the `random` module, or a seeded `random.Random`."""

    def uniform(self, a: float, b: float, /) -> float: ...


def backoff_delay(attempt: int, *, base: float, cap: float, rng: Uniform = random) -> float:
    """Return the seconds to wait after failed attempt number `attempt` (1-based): full jitter."""
    # Full jitter spreads the retries of many clients that failed together over the whole
    # window, instead of sending them back in synchronised waves.
    return rng.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def wait(seconds: float) -> None:
    """Wait between two attempts (the one place the client sleeps, so tests can watch it)."""
    time.sleep(seconds)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a Retry-After header asks to wait (delay-seconds or an HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- the circuit breaker -------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakerStatus:
    """The circuit breaker of one CDP connection, for a banner or an admin page."""

    is_open: bool
    open_until: datetime | None
    consecutive_failures: int


@dataclass(frozen=True)
class Admission:
    """The breaker's answer to "may I call CDP now?"."""

    allowed: bool
    trial: bool
    failures: int
    open_until: float | None  # epoch seconds; wall-clock time, since processes share it


class Breaker:
    """A circuit breaker for one CDP connection, its state in Django's default cache.

    Closed: calls go through; each failed call (after its retries) adds one to a count and a
    success clears it. When the count reaches the threshold the breaker opens: calls fail at once
    for the cool-off period. Then it is half-open: one trial call goes through; success closes the
    breaker, failure opens it again. With a shared cache (Redis, Memcached) every process sees the
    same breaker; with the default local-memory cache each process has its own.
    """

    def __init__(self, identity: str) -> None:
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
        self._failures_key = f"cdp:breaker:{digest}:failures"
        self._open_key = f"cdp:breaker:{digest}:open_until"
        self._trial_key = f"cdp:breaker:{digest}:trial"

    def status(self) -> BreakerStatus:
        """Return the breaker's state now."""
        failures, open_until = self._read()
        return BreakerStatus(
            is_open=open_until is not None and time.time() < open_until,
            open_until=None if open_until is None else datetime.fromtimestamp(open_until, UTC),
            consecutive_failures=failures,
        )

    def admit(self, *, trial_seconds: float) -> Admission:
        """Say whether a call may go ahead; in the half-open state, admit one trial call only."""
        failures, open_until = self._read()
        if open_until is None:
            return Admission(True, False, failures, None)
        if time.time() < open_until:
            return Admission(False, False, failures, open_until)
        # The trial slot expires by itself, so a trial whose process died cannot hold it forever.
        trial = self._safely(
            lambda: self._cache().add(self._trial_key, 1, timeout=max(1, math.ceil(trial_seconds)))
        )
        return Admission(bool(trial), bool(trial), failures, open_until)

    def record_success(self, admission: Admission, *, method: str = "") -> None:
        """Close the breaker after a call that CDP answered; announce it after failures."""
        if admission.failures or admission.open_until is not None or admission.trial:
            # Only on this state change, never on the plain success of every call: the one call
            # that clears the count (others may race it) announces that CDP answers again.
            cleared = self._safely(lambda: self._cache().delete(self._failures_key))
            self._safely(lambda: self._cache().delete_many([self._open_key, self._trial_key]))
            was_open = admission.open_until is not None
            if was_open:
                logger.info("CDP answered again; the circuit breaker is closed.")
            if cleared:
                cdp_answered_again.send_robust(
                    sender=Breaker, failures=admission.failures, was_open=was_open, method=method
                )

    def record_failure(self, admission: Admission, policy: Policy) -> None:
        """Count a failed call; open the breaker at the threshold or when a trial call failed."""

        def count() -> int:
            cache = self._cache()
            cache.add(self._failures_key, 0, timeout=None)
            return cache.incr(self._failures_key)

        failures = self._safely(count) or 0
        if admission.trial or failures >= policy.breaker_threshold:
            open_until = time.time() + policy.breaker_cooldown
            self._safely(lambda: self._cache().set(self._open_key, open_until, timeout=None))
            self._safely(lambda: self._cache().delete(self._trial_key))
            logger.warning(
                "CDP failed %d calls in a row; calls are paused for %g seconds.",
                failures,
                policy.breaker_cooldown,
            )

    def record_neither(self, admission: Admission) -> None:
        """Note a call that proved nothing either way, freeing the trial slot if it held it."""
        if admission.trial:
            self._safely(lambda: self._cache().delete(self._trial_key))

    def reset(self) -> None:
        """Close the breaker and forget its failures."""
        self._safely(
            lambda: self._cache().delete_many([self._failures_key, self._open_key, self._trial_key])
        )

    def _read(self) -> tuple[int, float | None]:
        values = (
            self._safely(lambda: self._cache().get_many([self._failures_key, self._open_key])) or {}
        )
        return int(values.get(self._failures_key) or 0), values.get(self._open_key)

    @staticmethod
    def _cache() -> BaseCache:
        return caches["default"]

    @staticmethod
    def _safely[T](operation: Callable[[], T]) -> T | None:
        # The breaker protects the app from CDP; an unreachable cache must not take the app down
        # too, so without it the breaker stays closed and calls go through.
        try:
            return operation()
        except Exception:
            logger.warning("The CDP circuit breaker could not use the cache.", exc_info=True)
            return None
