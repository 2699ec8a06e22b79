"""The retry policy on its own: which failures are repeated, full-jitter backoff, Retry-After."""

import random
from datetime import UTC, datetime

import pytest

from cdp import resilience
from cdp.errors import Failure

# --- which failed attempts are repeated -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "failure", "retried"),
    [
        ("GET", Failure.NOT_SENT, True),
        ("GET", Failure.DECLINED, True),
        ("GET", Failure.AMBIGUOUS, True),
        ("GET", Failure.FINAL, False),
        ("POST", Failure.NOT_SENT, True),
        ("POST", Failure.DECLINED, True),
        ("POST", Failure.AMBIGUOUS, False),
        ("POST", Failure.FINAL, False),
    ],
)
def test_only_a_write_that_cdp_surely_did_not_take_is_repeated(method, failure, retried):
    assert resilience.should_retry(method, failure) is retried


# --- backoff -------------------------------------------------------------------------------------


def test_full_jitter_keeps_every_delay_between_zero_and_the_capped_exponential():
    rng = random.Random(7)

    for attempt in range(1, 9):
        bound = min(2.0, 0.25 * 2 ** (attempt - 1))
        delays = [
            resilience.backoff_delay(attempt, base=0.25, cap=2.0, rng=rng) for _ in range(200)
        ]
        assert all(0 <= delay <= bound for delay in delays)
        # Spread over the whole window, not bunched at its top as with "equal jitter".
        assert min(delays) < bound * 0.1
        assert max(delays) > bound * 0.9


def test_full_jitter_repeats_with_the_same_seed():
    first = [resilience.backoff_delay(3, base=1, cap=10, rng=random.Random(1)) for _ in range(3)]
    again = [resilience.backoff_delay(3, base=1, cap=10, rng=random.Random(1)) for _ in range(3)]

    assert first == again


# --- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_it_reads_retry_after_as_seconds_or_an_http_date(header, seconds):
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)

    assert resilience.parse_retry_after(header, now=now) == seconds
