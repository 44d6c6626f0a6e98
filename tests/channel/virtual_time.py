"""Run an async test on the virtual-time loop of the simulation (:mod:`fuzz.sim.vloop`).

For tests with no I/O whose outcome rests on timeouts: the clock jumps to the next timer, so
they take no wall-clock time, a loaded machine cannot move a deadline, and a duration they
measure is exact. (pytest-asyncio only lets a ``pytest_asyncio_loop_factories`` hook choose a
loop, which would then decide it for every test under its conftest.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from fuzz.sim import vloop

__all__ = ["virtual_time"]


def virtual_time(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """``test`` as a plain test function that runs it to completion on a fresh virtual loop
    (a hang raises :class:`~fuzz.sim.vloop.Deadlock` at once instead of waiting)."""

    @functools.wraps(test)
    def run() -> None:
        vloop.run(test())

    return run
