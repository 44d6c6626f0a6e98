"""A virtual-time asyncio event loop: deterministic, no I/O, time jumps to the next timer.

The loop is asyncio's own selector loop with two things replaced: :meth:`VirtualLoop.time`
returns a virtual clock, and the selector never waits. asyncio asks the selector to wait
until the next timer is due when nothing is ready; :class:`_NoWaitSelector` instead moves the
clock there at once. So virtual time advances only when every task is idle, exactly to the
next deadline, and a run depends on nothing but the order of callbacks (asyncio runs ready
callbacks first in, first out, and timers by due time, then by the order they were set).
A run with nothing ready and no timer left is a deadlock: :class:`Deadlock` is raised.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Mapping
from typing import Any

__all__ = ["Deadlock", "VirtualLoop", "run"]


class Deadlock(RuntimeError):
    """Nothing is ready and no timer is set, yet the main task has not finished."""


class _NoWaitSelector(selectors.BaseSelector):
    """Registers file objects (the loop's self-pipe) and reports none of them ready."""

    def __init__(self) -> None:
        self._map: dict[Any, selectors.SelectorKey] = {}
        self.loop: VirtualLoop | None = None

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
        loop.advance(timeout)
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

    def time(self) -> float:
        """The virtual clock, in seconds since the loop was made."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (only the selector does, when every task is idle)."""
        if seconds > 0:
            self._now += seconds


def run(main: Any, *, debug: bool = False) -> Any:
    """Run coroutine ``main`` to completion on a fresh :class:`VirtualLoop`."""
    loop = VirtualLoop()
    loop.set_debug(debug)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
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
