"""Request timeouts: one value for every phase, as ``httpx.Timeout(5)``, or one per phase."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

from ..errors import InvalidValue

__all__ = ["DEFAULT_TIMEOUT", "TimeoutTypes", "Timeouts"]

DEFAULT_TIMEOUT = 30.0
"""Seconds of every phase not given: the manual's limit for link setup and for the request."""

_UNSET = math.nan


@dataclass(frozen=True, slots=True, init=False)
class Timeouts:
    """Request timeouts in seconds.

    ``Timeouts(5)`` is 5 s for every phase, as ``httpx.Timeout(5)``; ``Timeouts(10, read=2)``
    sets one phase apart. The phases, with httpx's names where they differ:

    * ``connect``: link setup (``AT+HTTPSETUP``); also bounds the closing of a link after a
      failed or abandoned request through ``idle``;
    * ``write``: the module taking the request (``AT+HTTPACTION`` and its data); when neither
      it nor ``timeout`` is given, ``first_byte``;
    * ``first_byte`` and ``idle`` (httpx's ``read`` sets both): the wait for the response head,
      and the longest gap between two chunks of the body;
    * ``pool``: the wait for the modem while other requests use it (None: no limit).
    """

    connect: float
    write: float
    first_byte: float
    idle: float
    pool: float | None

    def __init__(
        self,
        timeout: float | None = None,
        *,
        connect: float | None = None,
        write: float | None = None,
        read: float | None = None,
        first_byte: float | None = None,
        idle: float | None = None,
        pool: float | None = _UNSET,
    ) -> None:
        base = DEFAULT_TIMEOUT if timeout is None else _seconds(timeout, "timeout")
        read_value = base if read is None else _seconds(read, "read")
        first = read_value if first_byte is None else _seconds(first_byte, "first_byte")
        values = {
            "connect": base if connect is None else _seconds(connect, "connect"),
            "write": (first if timeout is None else base)
            if write is None
            else _seconds(write, "write"),
            "first_byte": first,
            "idle": read_value if idle is None else _seconds(idle, "idle"),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        if pool is not None and math.isnan(pool):
            pool = None if timeout is None else base
        object.__setattr__(self, "pool", None if pool is None else _seconds(pool, "pool"))

    def __repr__(self) -> str:
        return (
            f"Timeouts(connect={self.connect:g}, write={self.write:g}, "
            f"first_byte={self.first_byte:g}, idle={self.idle:g}, pool={self.pool!r})"
        )

    @classmethod
    def of(cls, value: TimeoutTypes) -> Timeouts | None:
        """``value`` as a :class:`Timeouts`: a number is that many seconds for every phase,
        None stays None (the modem's defaults apply)."""
        if value is None or isinstance(value, Timeouts):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(
                f"timeouts must be a Timeouts or a number of seconds, not {type(value).__name__}"
            )
        return cls(value)


TimeoutTypes: TypeAlias = Timeouts | float | None
"""What a ``timeouts=`` parameter takes: a :class:`Timeouts`, a number of seconds, or None."""


def _seconds(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"timeout {name} must be a number of seconds, not {value!r}")
    if not 0 < value < math.inf:
        raise InvalidValue(f"timeout {name} must be a finite number of seconds > 0, not {value!r}")
    return float(value)
