"""Faults the sandbox injects into its answers: latency, error statuses, resets, bad bodies."""

import random
import re
import threading
from dataclasses import dataclass, fields
from typing import TypeGuard

from cdp_sandbox.store import check_changes


@dataclass
class Fault:
    """Something to do instead of, or on top of, the normal answer to matching requests."""

    method: str = "*"  # "GET", "POST", "PUT", "PATCH", "DELETE" or "*"
    # A regular expression matched against the whole path, e.g. "/v2/orderConsumers/.*".
    path: str = ".*"
    # Seconds to wait before answering. The request is then handled as usual, so an update the
    # client gave up waiting for is still applied, as it may be in CDP.
    latency: float = 0.0
    status: int | None = None  # answer this status with a CDP-shaped error body
    # Sent as Retry-After with the status: seconds, or a string as it is (e.g. an HTTP-date).
    retry_after: int | str | None = None
    reset: bool = False  # drop the connection without answering
    malformed: bool = False  # answer 200 with a body that is not JSON
    truncated: bool = False  # promise a longer body than is sent, then close
    # Attribute changes made to the consumer at /v2[.1]/orderConsumers/<ref> before answering, as
    # another CDP user would make them (see Sandbox.change_consumer).
    change: dict | None = None
    # Answer exactly this body (text is sent as UTF-8, bytes as they are) as application/json,
    # with `status` or 200, instead of handling the request: any shape, JSON or not.
    body: str | bytes | None = None
    times: int | None = 1  # how many matching requests it applies to; None for all
    fraction: float = 1.0  # the share of matching requests it applies to (seeded random)

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.fullmatch(self.path, path) is not None

    @classmethod
    def from_dict(cls, data: object) -> "Fault":
        """Build a fault from JSON (the control endpoint, `--fault`); raise ValueError if wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault field {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        fault = cls(**data)
        fault._check()
        return fault

    def _check(self) -> None:
        def number(value: object) -> TypeGuard[int | float]:
            return isinstance(value, int | float) and not isinstance(value, bool)

        def whole(value: object) -> TypeGuard[int]:
            return isinstance(value, int) and not isinstance(value, bool)

        if self.method not in ("*", "GET", "POST", "PUT", "PATCH", "DELETE"):
            raise ValueError("method: must be GET, POST, PUT, PATCH, DELETE or *")
        if not isinstance(self.path, str):
            raise ValueError("path: must be a regular expression")
        try:
            re.compile(self.path)
        except re.error as exc:
            raise ValueError(f"path: not a valid regular expression ({exc})") from None
        if not number(self.latency) or self.latency < 0:
            raise ValueError("latency: must be a number of seconds, 0 or more")
        if self.status is not None and not (whole(self.status) and 100 <= self.status <= 599):
            raise ValueError("status: must be an HTTP status from 100 to 599, or null")
        if self.retry_after is not None and not (
            isinstance(self.retry_after, str) or (whole(self.retry_after) and self.retry_after >= 0)
        ):
            raise ValueError("retry_after: must be seconds (0 or more), an HTTP-date, or null")
        for name in ("reset", "malformed", "truncated"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false")
        if self.body is not None and not isinstance(self.body, str | bytes):
            raise ValueError("body: must be text (sent as it is), or null")
        if self.change is not None:
            if not isinstance(self.change, dict):
                raise ValueError("change: must be an object of attribute changes, or null")
            check_changes(self.change)
        if self.times is not None and not (whole(self.times) and self.times >= 1):
            raise ValueError("times: must be 1 or more, or null for every matching request")
        if not number(self.fraction) or not 0 < self.fraction <= 1:
            raise ValueError("fraction: must be more than 0 and at most 1")


class Faults:
    """The faults injected now, taken in order by the requests they match (seeded random)."""

    def __init__(self, lock: threading.RLock, *, random_seed: int):
        self.lock = lock
        self.items: list[Fault] = []
        self._random_seed = random_seed
        self._random = random.Random(random_seed)

    def reset(self) -> None:
        with self.lock:
            self.items.clear()
            self._random = random.Random(self._random_seed)

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.items.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.items.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Return the first fault for this request, using one of its `times`, or None."""
        with self.lock:
            for fault in self.items:
                if not fault.matches(method, path):
                    continue
                if fault.fraction < 1.0 and self._random.random() >= fault.fraction:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.items.remove(fault)
                return fault
        return None
