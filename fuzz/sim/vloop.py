"""A virtual-time asyncio event loop: deterministic, no I/O, time jumps to the next timer.

The loop is asyncio's own selector loop with two things replaced: :meth:`VirtualLoop.time`
returns a virtual clock, and the selector never waits. asyncio asks the selector to wait
until the next timer is due when nothing is ready; :class:`_NoWaitSelector` instead moves the
clock there at once. So virtual time advances only when every task is idle, exactly to the
next deadline, and a run depends on nothing but the order of callbacks (asyncio runs ready
callbacks first in, first out, and timers by due time, then by the order they were set).
A run with nothing ready and no timer left is a deadlock: :class:`Deadlock` is raised; one that
turns without end at one instant is a livelock: :class:`Livelock`.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Mapping
from typing import Any

__all__ = ["Deadlock", "Livelock", "VirtualLoop", "run"]


class Deadlock(RuntimeError):
    """Nothing is ready and no timer is set, yet the main task has not finished."""


class Crash(RuntimeError):
    """A callback or a task raised and nothing handled it (the loop's exception handler was
    called): in the channel, an exception escaping the protocol or the core."""


class Livelock(RuntimeError):
    """The loop turned :data:`SPIN_LIMIT` times without the clock moving: something reschedules
    itself at once, forever (a busy loop that virtual time would never end)."""


SPIN_LIMIT = 200_000


class _NoWaitSelector(selectors.BaseSelector):
    """Registers file objects (the loop's self-pipe) and reports none of them ready."""

    def __init__(self) -> None:
        self._map: dict[Any, selectors.SelectorKey] = {}
        self.loop: VirtualLoop | None = None
        self._spins = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, _fd(fileobj), events, data)
        self._map[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._map.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        if timeout is None:
            raise Deadlock(f"nothing ready and no timer set at t={loop.time():.6f}")
        if timeout > 0:
            # to the due time itself: ``now + timeout`` may round to less (or to now)
            scheduled = getattr(loop, "_scheduled", None)
            due = scheduled[0].when() if scheduled else loop.time() + timeout
            loop.advance(max(timeout, due - loop.time()), due)
            self._spins = 0
        else:
            self._spins += 1
            if self._spins > SPIN_LIMIT and loop.livelock is None:
                # stop the run: cancel every task, so that they end as a failed run's do
                due = (
                    list(getattr(loop, "_ready", ()))[:2]
                    + list(getattr(loop, "_scheduled", ()))[:2]
                )
                loop.livelock = f"{SPIN_LIMIT} loop turns at t={loop.time()!r}: {due!r:.400}"
                for task in asyncio.all_tasks(loop):
                    task.cancel()
            elif self._spins > 3 * SPIN_LIMIT:
                raise Livelock(loop.livelock or "")
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._map

    def close(self) -> None:
        self._map.clear()


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual (see the module docstring)."""

    def __init__(self) -> None:
        selector = _NoWaitSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self._clock_resolution = 1e-9
        self.livelock: str | None = None
        """Set when the loop turned without end at one instant (see :class:`Livelock`)."""

    def time(self) -> float:
        """The virtual clock, in seconds since the loop was made."""
        return self._now

    def advance(self, seconds: float, to: float | None = None) -> None:
        """Move the clock forward by ``seconds``, and at least ``to`` (only the selector does,
        when every task is idle)."""
        if seconds > 0:
            self._now = max(self._now + seconds, to if to is not None else self._now)


def run(main: Any, *, debug: bool = False) -> Any:
    """Run coroutine ``main`` to completion on a fresh :class:`VirtualLoop`."""
    loop = VirtualLoop()
    loop.set_debug(debug)
    crashes: list[str] = []

    def crashed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exception = context.get("exception")
        crashes.append(f"{context.get('message')}: {exception!r}")

    loop.set_exception_handler(crashed)
    try:
        try:
            result = loop.run_until_complete(main)
        except asyncio.CancelledError:
            if loop.livelock is not None:
                raise Livelock(loop.livelock) from None
            raise
        if loop.livelock is not None:
            raise Livelock(loop.livelock)
        if crashes:
            raise Crash(crashes[0])
        return result
    finally:
        try:
            _cancel_all(loop)
        except (Deadlock, Livelock):
            # a failed run's tasks may not even finish cancelling: drop them quietly
            loop.set_exception_handler(lambda loop, context: None)
        finally:
            loop.close()


def _cancel_all(loop: VirtualLoop) -> None:
    """Cancel what a failed run left (cancelling may start more tasks: until none is left)."""
    for _ in range(10):
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
