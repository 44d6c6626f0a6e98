"""What the transfer functions need of a modem: narrow protocols that :class:`~n58aio.Modem`
satisfies.

The transfers take any object with these members, not ``Modem`` itself, so this layer stays
below :mod:`n58aio.modem` (which calls into it) without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, Unpack

import structlog

from ..channel import ModemChannel, Reply, UrcCallback, UrcSubscription
from ..commands.link import LinkStatus
from ..http import HttpClient, RequestOptions, Response
from ..supervision import Supervisor

__all__ = ["DownloadModem", "ModuleFilesModem"]


class DownloadModem(Protocol):
    """What :func:`n58aio.transfer.download` uses: ranged GETs, the link and two reports."""

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger: ...

    def on_urc(self, prefix: str, callback: UrcCallback) -> Callable[[], None]: ...

    async def link_status(self) -> LinkStatus: ...

    async def recover(self, timeout: float = ...) -> LinkStatus: ...

    @property
    def supervisor(self) -> Supervisor: ...

    def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AbstractAsyncContextManager[Response]: ...


class ModuleFilesModem(Protocol):
    """What the module-side transfers (``AT+HTTPGET``, ``AT+FILEHTTPACTION``) use."""

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger: ...

    @property
    def http(self) -> HttpClient: ...

    @property
    def channel(self) -> ModemChannel: ...

    def urcs(self, prefix: str = ..., maxlen: int = ...) -> UrcSubscription: ...

    async def command(self, command: str, timeout: float | None = ...) -> Reply: ...

    async def link_status(self) -> LinkStatus: ...
