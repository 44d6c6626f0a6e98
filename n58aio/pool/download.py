"""A pool's download: :class:`~n58aio.transfer.engine.RangeEngine` with one worker per modem.

The engine is the modem's download (resume from the sidecar, whole-file fallback, streamed
hashing, digests, progress, one retry policy); the pool only lends the modems: a range whose
modem faults goes back to the queue from where it stopped and is leased, when it can, to
another modem; the pool supervises its members, so no recovery is started here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Unpack

import structlog

from ..errors import N58Error, NoModemAvailable
from ..http import ModuleURL
from ..retry import RetryPolicy
from ..transfer.engine import DownloadResult, RangeEngine, Worker
from ..transfer.options import DEFAULT_RANGE_SIZE as DEFAULT_RANGE_SIZE
from ..transfer.options import MAX_BACKOFF as MAX_BACKOFF
from ..transfer.options import DownloadOptions, DownloadSettings
from ..transfer.ranges import MIN_RANGE_SIZE, RANGES_PER_MODEM, content_range, plan_ranges
from .member import PoolMember
from .pool_api import DownloadPool

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "MIN_RANGE_SIZE",
    "RANGES_PER_MODEM",
    "PoolDownloadResult",
    "parallel_download",
    "parse_content_range",
    "plan_ranges",
]


@dataclass(frozen=True, slots=True)
class PoolDownloadResult(DownloadResult):
    """A :class:`~n58aio.transfer.DownloadResult` plus how the work was shared: the number
    of ``ranges`` and the body bytes each modem delivered (``bytes_by_modem``, by name)."""

    ranges: int
    bytes_by_modem: dict[str, int]


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 0-99/1000`` -> ``(0, 99, 1000)``; ``bytes */1000`` -> ``(None, None, 1000)``."""
    return content_range(value) or (None, None, None)


async def parallel_download(
    pool: DownloadPool,
    url: str,
    path: str | PathLike[str],
    **options: Unpack[DownloadOptions],
) -> PoolDownloadResult:
    """Download ``url`` to ``path`` over the modems of ``pool`` (see :meth:`ModemPool.download
    <n58aio.pool.ModemPool.download>`)."""
    target = ModuleURL.parse(url)  # refuse a bad URL before anything is written
    settings = DownloadSettings.of(options)
    source = PoolSource(pool, settings)
    engine = RangeEngine(source, target, Path(path), settings)
    result = await engine.run()
    return PoolDownloadResult(
        **asdict(result), ranges=engine.ranges, bytes_by_modem=dict(engine.by_modem)
    )


class PoolSource:
    """One worker per modem; a range leases a modem (another than the one that failed when
    one is free); a vanished port is worth another attempt (on another modem)."""

    def __init__(self, pool: DownloadPool, settings: DownloadSettings) -> None:
        self.pool = pool
        self.policy: RetryPolicy = settings.policy(other_modems=True)
        self._members: dict[str, PoolMember] = {}

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger:
        return self.pool.log

    @property
    def workers(self) -> int:
        return self.pool.size

    def lease(self, avoid: str | None) -> AbstractAsyncContextManager[Worker]:
        return self._lease(avoid)

    @contextlib.asynccontextmanager
    async def _lease(self, avoid: str | None) -> AsyncIterator[Worker]:
        avoided = [self._members[avoid]] if avoid in self._members else []
        async with self.pool._lease(avoided) as member:
            assert member.modem is not None
            self._members[member.name] = member
            yield Worker(member.name, member.modem, _counter(member))

    async def recovered(self, error: N58Error) -> None:
        """Nothing: the pool checks, quarantines and reopens its members itself."""

    def waits(self, error: NoModemAvailable) -> bool:
        """Modems in service but all busy: the range waits; a closed or dead pool fails."""
        return not self.pool.closed and self.pool.stats().healthy > 0

    def retried(self) -> None:
        """Counted in ``pool.stats().retries``."""
        self.pool._retries += 1


def _counter(member: PoolMember) -> Callable[[int], None]:
    def count(received: int) -> None:
        member.bytes += received

    return count
