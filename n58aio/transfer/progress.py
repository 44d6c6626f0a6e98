"""Progress reports of a download: :class:`Progress`, and the throttled reporter that both
:func:`n58aio.transfer.download` and ``ModemPool.download`` use to call the callback."""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = [
    "PROGRESS_INTERVAL",
    "RATE_WINDOW",
    "Progress",
    "ProgressCallback",
    "ProgressReporter",
]

PROGRESS_INTERVAL = 0.1
"""Seconds between two progress callbacks (plus one at the end)."""
RATE_WINDOW = 3.0
"""Seconds of history behind :attr:`Progress.rate`."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a download stands: bytes ``done`` of ``total`` (None until known), and the
    ``rate`` in bytes per second over the last few seconds."""

    done: int
    total: int | None
    rate: float

    @property
    def fraction(self) -> float | None:
        """``done / total``, or None while the size is unknown."""
        if self.total is None:
            return None
        return 1.0 if self.total == 0 else self.done / self.total


ProgressCallback = Callable[[Progress], Awaitable[None] | None]
"""A function, or coroutine function, taking a :class:`Progress`."""


class ProgressReporter:
    """Calls ``callback`` (when there is one) with a :class:`Progress` at most every
    :data:`PROGRESS_INTERVAL` seconds, or at once when forced; the rate is measured over the
    last :data:`RATE_WINDOW` seconds and starts over when ``done`` goes back."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self._last_report = -1.0
        self._samples: deque[tuple[float, int]] = deque()

    def restart(self) -> None:
        """Forget the rate history (the download starts again from 0)."""
        self._samples.clear()

    async def report(self, done: int, total: int | None, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL:
            return
        self._last_report = now
        samples = self._samples
        if samples and samples[-1][1] > done:
            samples.clear()  # rolled back or started over
        samples.append((now, done))
        while len(samples) > 2 and samples[1][0] <= now - RATE_WINDOW:
            samples.popleft()
        then, done_then = samples[0]
        rate = (done - done_then) / (now - then) if now > then else 0.0
        result = self.callback(Progress(done, total, rate))
        if inspect.isawaitable(result):
            await result
