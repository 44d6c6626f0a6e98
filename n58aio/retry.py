"""One retry policy for every operation that may be tried again: requests, downloads, file
transfers and the pool.

A :class:`RetryPolicy` says how many attempts an operation gets, how long to wait between them
(exponential backoff with full jitter: a delay drawn uniformly between 0 and
``min(max_backoff, backoff * 2 ** (failures - 1))``, which spreads the retries of many gateways
after a cell outage), which errors count as worth another attempt, and a total deadline. For
requests it also says which methods may be sent again: by default only the idempotent ones
(GET, HEAD, OPTIONS; a ranged GET is a GET), as urllib3's ``Retry`` does; PUT and DELETE only
when the caller adds them; a POST only when the caller passes a policy that names it, which is
then the caller's promise that the server tolerates a duplicate.

:class:`Attempts` runs a policy for one operation: it counts failures in a row and the time spent,
and says, after each failure, whether and after how long to try again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from .errors import (
    CommandError,
    CommandTimeout,
    HTTPStatusError,
    InvalidValue,
    LinkClosedError,
    N58Error,
    PoolTimeout,
    PortClosedError,
    ProtocolError,
    RequestTimeout,
)

__all__ = [
    "DOWNLOAD_STATUSES",
    "IDEMPOTENT_METHODS",
    "LINK_ERRORS",
    "RECOVERABLE_ERRORS",
    "Attempts",
    "RetryPolicy",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods sent again without the caller's word (RFC 9110 9.2.2 safe methods)."""

LINK_ERRORS: tuple[type[N58Error], ...] = (
    LinkClosedError,
    ProtocolError,
    RequestTimeout,
    CommandTimeout,
    CommandError,
)
"""Errors of the link, the line or the module, worth another attempt once the module was
checked: the link closed early, damaged output, a timeout, a refused command (``ConnectError``
when the data link is down)."""

RECOVERABLE_ERRORS: tuple[type[N58Error], ...] = (*LINK_ERRORS, PortClosedError)
""":data:`LINK_ERRORS` and a port that vanished (worth another attempt on another modem)."""

DOWNLOAD_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses a download tries again (the server's trouble, maybe passing); a request
returns every status to its caller."""

MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How an operation is tried again; see the module docstring.

    ``attempts``: tries in all (1: never again); for a download, tries of one range in a row.
    ``backoff``: the first delay's ceiling, doubled after each failure up to ``max_backoff``
    (full jitter draws the delay below the ceiling). ``deadline``: seconds from the first
    attempt after which no new one starts (None: no limit). ``errors``: what is worth another
    attempt; ``statuses``: HTTP statuses that are (as :class:`~n58aio.errors.HTTPStatusError`).
    ``methods``: the request methods that may be sent again.
    """

    attempts: int = 2
    backoff: float = 0.5
    max_backoff: float = MAX_BACKOFF
    deadline: float | None = None
    errors: tuple[type[Exception], ...] = RECOVERABLE_ERRORS
    statuses: frozenset[int] = field(default_factory=frozenset)
    methods: frozenset[str] = IDEMPOTENT_METHODS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidValue("attempts must be >= 1")
        if not (self.backoff >= 0 and self.max_backoff >= 0):
            raise InvalidValue("backoff and max_backoff must be >= 0")
        if self.deadline is not None and not self.deadline > 0:
            raise InvalidValue("deadline must be > 0 (or None)")
        object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt, nothing sent again."""
        return cls(attempts=1)

    def allowing(self, *methods: str) -> RetryPolicy:
        """This policy, with ``methods`` (``"PUT"``, ``"DELETE"``, even ``"POST"``) also sent
        again: the caller says the server tolerates a duplicate."""
        return replace(self, methods=self.methods | {m.upper() for m in methods})

    def resends(self, method: str) -> bool:
        """Whether a request with ``method`` may be sent again."""
        return method.upper() in self.methods

    def retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt (a wait for a free modem never is)."""
        if isinstance(exc, HTTPStatusError):
            return exc.status_code in self.statuses
        return isinstance(exc, self.errors) and not isinstance(exc, PoolTimeout)

    def ceiling(self, failures: int) -> float:
        """The longest delay after ``failures`` failures in a row."""
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, failures - 1)))

    def delay(self, failures: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """The delay after ``failures`` failures in a row: full jitter below :meth:`ceiling`."""
        return rng(0.0, self.ceiling(failures))

    def statuses_added(self, statuses: Iterable[int]) -> RetryPolicy:
        """This policy, with HTTP ``statuses`` also worth another attempt."""
        return replace(self, statuses=self.statuses | frozenset(statuses))


class Attempts:
    """One operation's run of a :class:`RetryPolicy`: ``attempt`` is the number of the attempt
    in progress (1 for the first), ``total`` all attempts so far, ``failures`` those failed in a
    row (a :meth:`succeeded` step, such as a completed range, starts the count again)."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self.started = clock()
        self.failures = 0
        self.total = 1

    @property
    def attempt(self) -> int:
        """The attempt in progress, counted from 1 since the last success."""
        return self.failures + 1

    def succeeded(self) -> None:
        """A step of the operation went through: failures in a row start again from 0."""
        self.failures = 0

    def after(self, exc: BaseException) -> float | None:
        """Count the failure ``exc``; the delay before the next attempt, or None when the
        policy says to give up (not retryable, no attempt left, deadline passed)."""
        self.failures += 1
        policy = self.policy
        if not policy.retryable(exc) or self.failures >= policy.attempts:
            return None
        delay = policy.delay(self.failures)
        if policy.deadline is not None:
            left = self.started + policy.deadline - self._clock()
            if left <= delay:
                return None
        self.total += 1
        return delay
