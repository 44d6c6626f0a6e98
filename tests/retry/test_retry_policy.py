"""The one retry policy (issue #23): the behaviour table of docs/reliability.md, as tests.

Pure: no emulator, virtual clock and a recording random source."""

from __future__ import annotations

from typing import Any

import pytest

import n58aio
from n58aio.retry import DOWNLOAD_STATUSES, Attempts, RetryPolicy
from n58aio.transfer.options import DownloadSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _link() -> Exception:
    return n58aio.LinkClosedError("gone")


@pytest.mark.parametrize(
    ("method", "default", "allowing_put"),
    [
        ("GET", True, True),
        ("head", True, True),
        ("OPTIONS", True, True),
        ("PUT", False, True),
        ("DELETE", False, False),
        ("POST", False, False),
        ("PATCH", False, False),
    ],
)
def test_which_methods_are_sent_again(method: str, default: bool, allowing_put: bool) -> None:
    assert RetryPolicy().resends(method) is default
    assert RetryPolicy().allowing("put").resends(method) is allowing_put
    assert RetryPolicy().allowing("POST").resends("POST")


@pytest.mark.parametrize(
    ("error", "worth"),
    [
        (n58aio.LinkClosedError("x"), True),
        (n58aio.ProtocolError("x"), True),
        (n58aio.ReadTimeout("idle", 1.0), True),
        (n58aio.CommandTimeout("AT", 1.0), True),
        (n58aio.CommandError("AT+HTTPSETUP", "ERROR"), True),
        (n58aio.PortClosedError("x"), True),
        (n58aio.PoolTimeout("pool", 1.0), False),  # busy, nothing failed
        (n58aio.InvalidValue("x"), False),
        (n58aio.TLSConfigError("x"), False),
        (n58aio.HTTPStatusError(503, "Unavailable", "u"), False),
        (ValueError("x"), False),
    ],
)
def test_which_errors_are_worth_another_attempt(error: Exception, worth: bool) -> None:
    assert RetryPolicy().retryable(error) is worth


def test_statuses_only_when_named() -> None:
    policy = RetryPolicy().statuses_added(DOWNLOAD_STATUSES)
    assert policy.retryable(n58aio.HTTPStatusError(503, "Unavailable", "u"))
    assert not policy.retryable(n58aio.HTTPStatusError(404, "Not Found", "u"))


def test_full_jitter_below_a_doubling_ceiling() -> None:
    policy = RetryPolicy(attempts=10, backoff=0.5, max_backoff=3.0)
    assert [policy.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    asked: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    assert policy.delay(3, top) == 2.0
    assert asked == [(0.0, 2.0)]
    for failures in range(1, 8):
        assert 0.0 <= policy.delay(failures) <= policy.ceiling(failures)


def test_attempts_count_failures_in_a_row_and_give_up() -> None:
    attempts = Attempts(RetryPolicy(attempts=3, backoff=0))
    assert attempts.attempt == 1 and attempts.total == 1
    assert attempts.after(_link()) == 0.0 and attempts.total == 2
    assert attempts.after(_link()) == 0.0 and attempts.total == 3
    assert attempts.after(_link()) is None  # the third failure in a row: no fourth attempt
    attempts.succeeded()
    assert attempts.attempt == 1
    assert attempts.after(_link()) == 0.0  # a completed step starts the count again


def test_a_not_retryable_error_ends_at_once() -> None:
    attempts = Attempts(RetryPolicy(attempts=5))
    assert attempts.after(n58aio.InvalidValue("x")) is None
    assert attempts.total == 1


def test_the_deadline_bounds_the_whole_operation() -> None:
    clock = Clock()
    attempts = Attempts(RetryPolicy(attempts=100, backoff=1.0, deadline=10.0), clock=clock)
    assert attempts.after(_link()) is not None
    clock.now += 9.99
    assert attempts.after(_link()) is None  # any delay would end past the deadline


def test_never_and_bad_values() -> None:
    assert Attempts(RetryPolicy.never()).after(_link()) is None
    bad_values: list[dict[str, Any]] = [{"attempts": 0}, {"backoff": -1.0}, {"deadline": 0.0}]
    for bad in bad_values:
        with pytest.raises(n58aio.InvalidValue):
            RetryPolicy(**bad)


def test_a_download_range_policy() -> None:
    options = DownloadSettings.of({"range_size": 1024, "retries": 4, "backoff": 0.25})
    policy = options.policy()
    assert policy.attempts == 5 and policy.backoff == 0.25 and policy.max_backoff == 30.0
    assert policy.retryable(n58aio.HTTPStatusError(503, "Unavailable", "u"))
    assert not policy.retryable(n58aio.PortClosedError("x"))  # one modem: the port is gone
    assert options.policy(other_modems=True).retryable(n58aio.PortClosedError("x"))


def test_a_request_option_must_be_a_policy() -> None:
    from n58aio.http.options import check_request_options

    with pytest.raises(n58aio.InvalidOption, match="RetryPolicy"):
        check_request_options({"retry": 2})
    check_request_options({"retry": RetryPolicy.never()})


def test_download_options_are_checked_once() -> None:
    assert DownloadSettings.of({}) == DownloadSettings()
    with pytest.raises(n58aio.InvalidOption, match="'retries'"):
        DownloadSettings.of({"retry": 3})  # the closest name is given
    with pytest.raises(n58aio.InvalidValue, match="sha256"):
        DownloadSettings.of({"sha256": "xyz"})
    assert DownloadSettings.of({"md5": "A" * 32}).md5 == "a" * 32
    assert DownloadSettings.of({"timeouts": 3}).timeouts == n58aio.Timeouts(3)
