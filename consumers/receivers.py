"""The queue of edits wakes when CDP answers again (`cdp.resilience.cdp_answered_again`).

Connected in `ConsumersConfig.ready()`. The circuit breaker announces a recovery in the thread of
the call that saw it; a worker thread of `services._cdp_in_parallel` must not use the database,
so there the wake-up is handed back to the thread that started the threads (`deferred_wakes`).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

# Inside a thread of services._cdp_in_parallel: where its recoveries are noted instead.
_deferred: ContextVar[list | None] = ContextVar("consumers_deferred_wakes", default=None)
# Wake the queue at most once a second per cache: recoveries may follow each other closely
# (reads that work while updates still fail), and each wake may cost CDP a try.
_WOKEN_LATELY = "consumers:queue-woken-lately"


def wake_the_queue(sender: object, **kwargs: Any) -> None:
    """Have the oldest queued edit tried now, for CDP answers again (see pushes.push_queue_wake)."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.append(kwargs)
        return
    try:
        if not cache.add(_WOKEN_LATELY, True, timeout=1):
            return
    except Exception:  # no cache, no limit: a wake-up is worth more than the saved query
        logger.warning("Could not use the cache to limit queue wake-ups.", exc_info=True)
    # cycle-breaker: pushes reads through services, whose threads hand their wake-ups back to
    # this module (deferred_wakes, wake_if_noted), so pushes is imported only when a wake is due.
    from consumers.pushes import push_queue_wake

    push_queue_wake()


@contextmanager
def deferred_wakes() -> Iterator[list]:
    """In a thread that must keep off the database: note recoveries in the list yielded."""
    noted: list = []
    token = _deferred.set(noted)
    try:
        yield noted
    finally:
        _deferred.reset(token)


def wake_if_noted(noted: list) -> None:
    """Wake the queue for the recoveries noted in threads, now that we are back in ours."""
    if noted:
        wake_the_queue(sender=None, **noted[0])
