"""What the parallel download needs of a pool: a narrow protocol that
:class:`~n58aio.pool.ModemPool` satisfies, so :mod:`.download` does not import :mod:`.pool`."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Protocol, Unpack

import structlog

from ..http import RequestOptions, Response
from .member import PoolMember
from .stats import PoolStats

__all__ = ["DownloadPool"]


class DownloadPool(Protocol):
    """The probe request, leases of single modems, health, and the pool's retry counter."""

    _retries: int

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger: ...

    @property
    def size(self) -> int: ...

    @property
    def closed(self) -> bool: ...

    def stats(self) -> PoolStats: ...

    def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AbstractAsyncContextManager[Response]: ...

    def _lease(
        self, avoid: Collection[PoolMember] = ..., wait: float | None = ...
    ) -> AbstractAsyncContextManager[PoolMember]: ...
