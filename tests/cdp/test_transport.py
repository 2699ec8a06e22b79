"""Retries, time budgets and the circuit breaker, against the sandbox over real HTTP."""

import re
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from cdp import client, links, resilience, transport
from cdp.connection import current_connection
from cdp.errors import CDPBadResponse, CDPCircuitOpen, CDPNotFound, CDPUnavailable, Failure
from cdp_sandbox.server import Fault, Sandbox
from tests.conftest import CONSUMER_REF

# The client looks up the active CDP connection in the database before each call.
pytestmark = pytest.mark.django_db

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
UNKNOWN_REF = "00000000-0000-0000-0000-000000000000"
# Room for thread scheduling and a loaded CI machine when timing a call.
SLACK = 0.4


def gets(sandbox) -> int:
    return len(sandbox.requests_to("GET", CONSUMER_PATH))


def posts(sandbox) -> int:
    return len(sandbox.requests_to("POST", CONSUMER_PATH))


def free_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


@pytest.fixture
def waits(monkeypatch):
    """Record the client's waits between attempts instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr(resilience, "wait", recorded.append)
    return recorded


@pytest.fixture
def one_try(settings):
    """One attempt per call, so each failed call counts once towards the breaker quickly."""
    settings.CDP_RETRY_ATTEMPTS = 1
    settings.CDP_BREAKER_THRESHOLD = 3
    settings.CDP_BREAKER_COOLDOWN = 0.2
    return settings


def fail_calls(count: int) -> None:
    for _ in range(count):
        with pytest.raises(CDPUnavailable):
            client.get_order_consumer(CONSUMER_REF)


# --- retrying reads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"status": 429},
        {"status": 502},
        {"status": 504},
        {"reset": True},
        {"malformed": True},
        {"truncated": True},
        {"latency": 0.5},
    ],
    ids=["503", "429", "502", "504", "reset", "malformed", "truncated", "read-timeout"],
)
def test_it_retries_a_read_after_a_transient_failure_and_succeeds(sandbox, settings, fault):
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, **fault))

    consumer = client.get_order_consumer(CONSUMER_REF)

    assert consumer["ref"] == CONSUMER_REF
    assert gets(sandbox) == 2


def test_it_retries_a_read_after_a_503_and_succeeds(sandbox):
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=503, times=2))

    assert client.get_order_consumer(CONSUMER_REF)["firstName"] == "Liam"
    assert [r.status for r in sandbox.requests_to("GET", CONSUMER_PATH)] == [503, 503, 200]


def test_it_retries_a_read_after_a_refused_connection_and_succeeds(settings, monkeypatch):
    port = free_port()
    settings.CDP_BASE_URL = f"http://127.0.0.1:{port}"
    late = Sandbox()
    # CDP comes up while the client waits to try again.
    monkeypatch.setattr(resilience, "wait", lambda seconds: late.start(port=port))
    try:
        assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF
        assert len(late.requests_to("GET", CONSUMER_PATH)) == 1
    finally:
        late.stop()


def test_it_does_not_retry_a_server_error_that_would_come_back_the_same(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=500))

    with pytest.raises(CDPUnavailable, match="HTTP 500") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.attempts == 1
    assert gets(sandbox) == 1


def test_it_does_not_retry_a_refusal(sandbox):
    with pytest.raises(CDPNotFound) as caught:
        client.get_order_consumer(UNKNOWN_REF)

    assert caught.value.attempts == 1
    assert len(sandbox.requests_to("GET", f"/v2/orderConsumers/{UNKNOWN_REF}")) == 1


def test_it_makes_at_most_the_configured_number_of_attempts(sandbox, settings):
    settings.CDP_RETRY_ATTEMPTS = 5
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))

    with pytest.raises(CDPUnavailable, match="Gave up after 5 attempts") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.attempts == 5
    assert gets(sandbox) == 5


def test_a_garbled_reply_that_stays_garbled_is_a_bad_response_after_the_retries(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, malformed=True, times=None))

    with pytest.raises(CDPBadResponse, match=r"not JSON\. Gave up after 3 attempts\.") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.retryable


# --- 503: "try again immediately" -----------------------------------------------------------


def test_a_503_is_tried_again_at_once_then_with_backoff(sandbox, settings, waits):
    # CDP's advice for a 503: "Try again immediately as servers are clustered".
    settings.CDP_RETRY_ATTEMPTS = 4
    settings.CDP_RETRY_BACKOFF = 0.2
    settings.CDP_RETRY_BACKOFF_MAX = 0.2
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=3))

    client.get_order_consumer(CONSUMER_REF)

    assert gets(sandbox) == 4
    first, *later = waits
    assert first == 0.0
    assert len(later) == 2
    assert all(0 <= wait <= 0.2 for wait in later)


def test_other_failures_back_off_from_the_first_retry(sandbox, monkeypatch, waits):
    monkeypatch.setattr(resilience.random, "uniform", lambda low, high: high)
    sandbox.inject(Fault(path=CONSUMER_PATH, status=502, times=1))

    client.get_order_consumer(CONSUMER_REF)

    assert waits == [0.01]  # the tests' CDP_RETRY_BACKOFF


# --- Retry-After ---------------------------------------------------------------------------------


def test_it_waits_as_long_as_retry_after_asks(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=429, retry_after=1))
    started = time.monotonic()

    client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started >= 1.0
    assert gets(sandbox) == 2


def test_it_honours_a_retry_after_given_as_an_http_date(sandbox, waits):
    when = datetime.now(UTC) + timedelta(seconds=3)
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, retry_after=format_datetime(when, True)))

    client.get_order_consumer(CONSUMER_REF)

    # HTTP-dates have whole seconds, so the wait is up to a second shorter than asked.
    [waited] = waits
    assert 1.5 < waited <= 3.0


def test_it_gives_up_at_once_when_retry_after_is_longer_than_the_budget(sandbox, settings):
    settings.CDP_CALL_BUDGET = 2.0
    sandbox.inject(Fault(path=CONSUMER_PATH, status=429, retry_after=120, times=None))
    started = time.monotonic()

    with pytest.raises(CDPUnavailable, match="CDP asked to wait 120 seconds") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started < SLACK
    assert caught.value.status == 429
    assert caught.value.retry_after == 120
    assert gets(sandbox) == 1


# --- time budgets --------------------------------------------------------------------------------


def test_the_call_budget_caps_the_time_a_call_takes(sandbox, settings):
    settings.CDP_TIMEOUT = 2.0
    settings.CDP_CALL_BUDGET = 0.5
    sandbox.inject(Fault(path=CONSUMER_PATH, latency=1.5, times=None))
    started = time.monotonic()

    with pytest.raises(CDPUnavailable, match="seconds allowed for this call ran out") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started < 0.5 + SLACK
    assert "did not answer within 0.5 seconds" in str(caught.value)


def test_the_call_budget_caps_the_time_of_all_the_retries_together(sandbox, settings):
    settings.CDP_TIMEOUT = 0.3
    settings.CDP_CALL_BUDGET = 0.8
    settings.CDP_RETRY_ATTEMPTS = 10
    sandbox.inject(Fault(path=CONSUMER_PATH, latency=1.5, times=None))
    started = time.monotonic()

    with pytest.raises(CDPUnavailable) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started < 0.8 + SLACK
    assert 2 <= caught.value.attempts < 10


def test_a_deadline_caps_several_calls_together(sandbox, settings):
    settings.CDP_TIMEOUT = 0.4
    sandbox.inject(Fault(path=CONSUMER_PATH, latency=1.5, times=None))
    started = time.monotonic()

    with transport.deadline(0.6):
        with pytest.raises(CDPUnavailable):
            client.get_order_consumer(CONSUMER_REF)
        with pytest.raises(CDPUnavailable, match="was not called") as second:
            client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started < 0.6 + SLACK
    assert second.value.attempts == 0
    assert gets(sandbox) == 2  # the first call's two attempts; the second sent nothing


def test_a_deadline_ends_with_its_block(sandbox):
    with transport.deadline(0), pytest.raises(CDPUnavailable, match="was not called"):
        client.get_order_consumer(CONSUMER_REF)

    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF


def test_a_nested_deadline_can_only_tighten_the_outer_one(sandbox):
    with (
        transport.deadline(0),
        transport.deadline(60),
        pytest.raises(CDPUnavailable, match="was not called"),
    ):
        client.get_order_consumer(CONSUMER_REF)


def test_a_call_that_runs_out_of_time_does_not_count_against_cdp(sandbox, one_try):
    for _ in range(3):
        with transport.deadline(0), pytest.raises(CDPUnavailable):
            client.get_order_consumer(CONSUMER_REF)

    assert transport.breaker_status(current_connection()).consecutive_failures == 0


# --- the update ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [{"latency": 0.6}, {"status": 502}, {"status": 504}, {"reset": True}, {"malformed": True}],
    ids=["read-timeout", "502", "504", "reset", "malformed"],
)
def test_it_does_not_repeat_an_update_that_cdp_may_have_applied(sandbox, settings, fault):
    settings.CDP_TIMEOUT = 0.3
    record = client.get_order_consumer(CONSUMER_REF)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, times=None, **fault))

    with pytest.raises((CDPUnavailable, CDPBadResponse)) as caught:
        client.update_order_consumer(CONSUMER_REF, {**record, "lastName": "Beirne"})

    assert posts(sandbox) == 1
    assert caught.value.failure is Failure.AMBIGUOUS
    assert caught.value.retryable


def test_an_update_that_timed_out_may_still_be_applied(sandbox, settings):
    settings.CDP_TIMEOUT = 0.2
    record = client.get_order_consumer(CONSUMER_REF)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, latency=0.4))

    with pytest.raises(CDPUnavailable, match=r"did not answer within 0\.2 seconds"):
        client.update_order_consumer(CONSUMER_REF, {**record, "lastName": "Beirne"})

    time.sleep(0.5)
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


@pytest.mark.parametrize("status", [503, 429])
def test_it_repeats_an_update_that_cdp_declined(sandbox, status):
    record = client.get_order_consumer(CONSUMER_REF)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=status))

    reply = client.update_order_consumer(CONSUMER_REF, {**record, "lastName": "Beirne"})

    assert reply["lastName"] == "Beirne"
    assert [r.status for r in sandbox.requests_to("POST", CONSUMER_PATH)] == [status, 201]


def test_it_repeats_an_update_that_could_not_connect(sandbox, settings, monkeypatch):
    record = client.get_order_consumer(CONSUMER_REF)
    port = free_port()
    settings.CDP_BASE_URL = f"http://127.0.0.1:{port}"
    late = Sandbox()
    # CDP comes up while the client waits to try again.
    monkeypatch.setattr(resilience, "wait", lambda seconds: late.start(port=port))
    try:
        reply = client.update_order_consumer(CONSUMER_REF, {**record, "lastName": "Beirne"})

        assert reply["lastName"] == "Beirne"
        assert len(late.requests_to("POST", CONSUMER_PATH)) == 1
    finally:
        late.stop()


# --- backoff -------------------------------------------------------------------------------------


def test_the_client_waits_a_jittered_delay_between_attempts(sandbox, settings, waits):
    settings.CDP_RETRY_BACKOFF = 0.5
    settings.CDP_RETRY_BACKOFF_MAX = 0.8
    sandbox.inject(Fault(path=CONSUMER_PATH, status=502, times=2))

    client.get_order_consumer(CONSUMER_REF)

    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.5
    assert 0 <= waits[1] <= 0.8


# --- the circuit breaker -------------------------------------------------------------------------


def test_the_breaker_opens_after_the_threshold_and_then_fails_fast(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)

    started = time.monotonic()
    with pytest.raises(CDPCircuitOpen) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert time.monotonic() - started < 0.1
    assert gets(sandbox) == 3  # the fourth call never reached CDP
    assert re.fullmatch(
        r"CDP is unavailable: 3 calls in a row failed, so calls are paused until "
        r"\d\d:\d\d:\d\d UTC\.",
        str(caught.value),
    )
    assert caught.value.attempts == 0
    assert caught.value.retryable
    status = transport.breaker_status(current_connection())
    assert status.is_open
    assert status.consecutive_failures == 3
    assert status.open_until is not None
    assert status.open_until > datetime.now(UTC)


def test_the_breaker_counts_a_call_once_after_its_retries(sandbox, settings):
    settings.CDP_BREAKER_THRESHOLD = 2
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))

    fail_calls(1)

    assert gets(sandbox) == 3
    assert transport.breaker_status(current_connection()).consecutive_failures == 1
    assert not transport.breaker_status(current_connection()).is_open


def test_the_breaker_is_shared_by_every_kind_of_call(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)

    with pytest.raises(CDPCircuitOpen):
        client.get_guest("any")
    with pytest.raises(CDPCircuitOpen):
        client.update_order_consumer(CONSUMER_REF, {})


def test_a_successful_trial_after_the_cooldown_closes_the_breaker(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    sandbox.clear_faults()
    time.sleep(0.25)

    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF

    status = transport.breaker_status(current_connection())
    assert (status.is_open, status.open_until, status.consecutive_failures) == (False, None, 0)
    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF


def test_a_failed_trial_after_the_cooldown_opens_the_breaker_again(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    time.sleep(0.25)

    with pytest.raises(CDPUnavailable, match="HTTP 503") as trial:
        client.get_order_consumer(CONSUMER_REF)
    with pytest.raises(CDPCircuitOpen):
        client.get_order_consumer(CONSUMER_REF)

    assert not isinstance(trial.value, CDPCircuitOpen)
    assert gets(sandbox) == 4  # three failures and the trial
    assert transport.breaker_status(current_connection()).is_open


def test_only_one_trial_call_goes_through_while_half_open(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    time.sleep(0.25)
    breaker = transport._breaker(current_connection())

    first = breaker.admit(trial_seconds=5)
    second = breaker.admit(trial_seconds=5)

    assert (first.allowed, first.trial) == (True, True)
    assert not second.allowed
    with pytest.raises(CDPCircuitOpen, match="one call is now checking whether it is back"):
        client.get_order_consumer(CONSUMER_REF)


def test_refusals_do_not_count_as_failures(sandbox, one_try):
    for _ in range(4):
        with pytest.raises(CDPNotFound):
            client.get_order_consumer(UNKNOWN_REF)

    assert transport.breaker_status(current_connection()).consecutive_failures == 0
    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF


def test_an_answer_from_cdp_resets_the_count(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=2))
    fail_calls(2)

    with pytest.raises(CDPNotFound):
        client.get_order_consumer(UNKNOWN_REF)

    assert transport.breaker_status(current_connection()).consecutive_failures == 0


def test_the_breaker_belongs_to_one_connection(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    main = current_connection()
    other = transport.Connection(
        base_url=sandbox.base_url.replace("127.0.0.1", "localhost"),
        client_key=main.client_key,
        api_token=main.api_token,
        connect_timeout=1.0,
        read_timeout=2.0,
    )

    assert transport.breaker_status(main).is_open
    assert not transport.breaker_status(other).is_open
    one_try.CDP_BASE_URL = other.base_url
    assert client.get_order(links.ref_from_link(sandbox.consumer(CONSUMER_REF)["order"]))


def test_testing_a_connection_passes_the_open_breaker_with_one_plain_attempt(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    one_try.CDP_RETRY_ATTEMPTS = 3

    assert client.check_credentials(current_connection())["items"] == []

    sandbox.inject(Fault(path="/v2/orders", status=503, times=None))
    with pytest.raises(CDPUnavailable, match="HTTP 503") as caught:
        client.check_credentials(current_connection())
    assert caught.value.attempts == 1
    assert len(sandbox.requests_to("GET", "/v2/orders")) == 2
    assert transport.breaker_status(current_connection()).consecutive_failures == 3


def test_breaker_reset_closes_the_breaker(sandbox, one_try):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    fail_calls(3)
    sandbox.clear_faults()

    transport.breaker_reset(current_connection())

    assert not transport.breaker_status(current_connection()).is_open
    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF


def test_calls_go_through_when_the_breaker_cannot_reach_its_cache(sandbox, monkeypatch):
    def unreachable():
        raise ConnectionError("cache down")

    monkeypatch.setattr(resilience.Breaker, "_cache", staticmethod(unreachable))

    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF
    assert transport.breaker_status(current_connection()).consecutive_failures == 0
