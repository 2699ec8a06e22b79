"""`make run` and `make serve SANDBOX=true`: which API version the app speaks to the sandbox."""

import pytest

from backoffice.launch.processes import sandbox_api_version, sandbox_flags


def test_make_run_speaks_v2_1_unless_sandbox_api_version_says_otherwise():
    assert sandbox_api_version({}) == "v2.1"
    assert sandbox_api_version({"SANDBOX_API_VERSION": "v2"}) == "v2"
    assert sandbox_api_version({"SANDBOX_API_VERSION": " v2.1 "}) == "v2.1"


def test_a_version_the_sandbox_does_not_speak_stops_make_run_with_a_message():
    with pytest.raises(SystemExit, match="SANDBOX_API_VERSION is “v3”; the sandbox speaks v2 and"):
        sandbox_api_version({"SANDBOX_API_VERSION": "v3"})


def test_the_sandbox_logs_each_request_when_asked():
    assert sandbox_flags({"SANDBOX_LOG_REQUESTS": "true"}) == ["--log-requests"]
    assert sandbox_flags({}) == []
