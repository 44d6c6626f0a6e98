"""One modem of a pool: its port, its counters, its health check and its restart watch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog

from ..commands.link import LinkStatus
from ..errors import CommandTimeout, LinkClosedError, N58Error
from ..modem import Modem, open_modem
from ..supervision import EventKind
from .stats import ModemState, ModemStats

__all__ = ["ERROR_WINDOW", "RESET_REPORTS", "PoolMember", "port_url"]

ERROR_WINDOW = 60.0
"""Seconds during which an error counts against a modem when scheduling."""

RESET_REPORTS = ("+PBREADY", "GPRS DISCONNECTION")
"""Reports meaning the module restarted or lost its data link: requests in flight are dead."""


def port_url(url: str) -> str:
    """The URL handed to pyserial: ``rfc2217://`` gets ``ign_set_control`` unless it has it.

    ser2net on a port without modem lines (a pseudo-terminal, or ``local``) does not confirm
    DTR/RTS changes, which pyserial's RFC 2217 client otherwise waits for and fails on.
    """
    if not url.startswith("rfc2217://"):
        return url
    query = urlsplit(url).query
    if any(key == "ign_set_control" for key, _ in parse_qsl(query, keep_blank_values=True)):
        return url
    return f"{url}{'&' if query else '?'}ign_set_control"


class PoolMember:
    """A modem slot: opened, checked, leased, quarantined and reopened by the pool."""

    def __init__(
        self, index: int, url: str, name: str, log: structlog.typing.FilteringBoundLogger
    ) -> None:
        self.index = index
        self.url = url
        self.name = name
        self.log = log.bind(modem=name, url=url)
        self.state: ModemState = "opening"
        self.modem: Modem | None = None
        self.requests = 0
        self.bytes = 0
        self.errors = 0
        self._supervision: dict[EventKind, int] = {}  # counts of the modems closed before this one
        self._resends = 0  # likewise, requests sent again after a recovery
        self.reopens = 0
        self.last_error: str | None = None
        self.last_used = 0.0
        self.last_ok = 0.0
        self.needs_check = False
        self._error_times: deque[float] = deque(maxlen=64)
        self._stack: AsyncExitStack | None = None
        self._opening: asyncio.Task[Modem] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._scope: asyncio.Timeout | None = None
        self._abort_reason: str | None = None

    def __repr__(self) -> str:
        return f"<PoolMember {self.name} {self.url} {self.state}>"

    # ------------------------------------------------------------------ counters
    def note_error(self, exc: BaseException) -> None:
        """Count a failed attempt or check."""
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._error_times.append(time.monotonic())

    def recent_errors(self, now: float) -> int:
        """Errors within :data:`ERROR_WINDOW` seconds before ``now``."""
        return sum(1 for at in self._error_times if now - at < ERROR_WINDOW)

    def stats(self) -> ModemStats:
        """A snapshot of the counters."""
        return ModemStats(
            name=self.name,
            url=self.url,
            state=self.state,
            requests=self.requests,
            bytes=self.bytes,
            errors=self.errors,
            recent_errors=self.recent_errors(time.monotonic()),
            reopens=self.reopens,
            last_error=self.last_error,
            restarts=self.supervision("restart"),
            link_losses=self.supervision("link_lost"),
            registration_losses=self.supervision("registration_lost"),
            resets=self.supervision("reset"),
            recoveries=self.supervision("recovered"),
            unresponsive=self.supervision("unresponsive"),
            recovery_failures=self.supervision("recovery_failed"),
            resends=self._resends + (self.modem.supervisor.resends if self.modem else 0),
        )

    def supervision(self, kind: EventKind) -> int:
        """How often the supervision saw ``kind`` on this member (across reopens)."""
        live: dict[EventKind, int] = {}
        if self.modem is not None:
            live = self.modem.supervision_counts
        return self._supervision.get(kind, 0) + live.get(kind, 0)

    # ------------------------------------------------------------------ port
    async def open(self, options: Mapping[str, Any]) -> Modem:
        """Open the port (``open_modem`` with ``options``); the open finishes even if the
        caller is cancelled, so that :meth:`close` can release it."""
        if self.modem is not None:
            return self.modem
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open(options))
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _open(self, options: Mapping[str, Any]) -> Modem:
        stack = AsyncExitStack()
        try:
            modem = await stack.enter_async_context(
                open_modem(port_url(self.url), name=self.name, **options)
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.modem = modem
        return modem

    async def close(self) -> None:
        """Stop watching and close the port (also one whose open is still in progress)."""
        await self.stop_watch()
        opening, self._opening = self._opening, None
        if opening is not None:
            with contextlib.suppress(Exception):
                await opening
        stack, self._stack = self._stack, None
        if self.modem is not None:
            for kind, count in self.modem.supervision_counts.items():
                self._supervision[kind] = self._supervision.get(kind, 0) + count
            self._resends += self.modem.supervisor.resends
        self.modem = None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    # ------------------------------------------------------------------ health
    async def check(self, timeout: float) -> LinkStatus:
        """``AT``, then the data link state, attaching when it is down; within ``timeout``."""
        modem = self.modem
        if modem is None or modem.closed:
            raise LinkClosedError(f"{self.name}: the port is not open")
        try:
            async with asyncio.timeout(timeout):
                await modem.command("AT")
                status = await modem.link_status()
                if not status.up:
                    self.log.info("pool.modem.attach")
                    status = await modem.attach(timeout)
        except TimeoutError as exc:
            if isinstance(exc, N58Error):
                raise
            raise CommandTimeout("health check", timeout) from None
        self.needs_check = False
        self.last_ok = time.monotonic()
        return status

    # ------------------------------------------------------------------ restart watch
    def start_watch(
        self,
        on_lost: Callable[[PoolMember, BaseException], None],
        on_reset: Callable[[PoolMember, str], None],
    ) -> None:
        """Watch the port: ``on_lost`` when it closes, ``on_reset`` for :data:`RESET_REPORTS`."""
        modem = self.modem
        if modem is None:
            return
        subscription = modem.urcs("", maxlen=64)

        async def watch() -> None:
            try:
                async for line in subscription:
                    if line.startswith(RESET_REPORTS):
                        on_reset(self, line)
            except N58Error as exc:
                on_lost(self, exc)
            finally:
                subscription.close()

        self._watcher = asyncio.ensure_future(watch())

    async def stop_watch(self) -> None:
        """Stop the watch task."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run a lease; :meth:`abort` interrupts it with :class:`LinkClosedError`."""
        self._abort_reason = None
        try:
            async with asyncio.timeout(None) as scope:
                self._scope = scope
                try:
                    yield
                finally:
                    self._scope = None
        except TimeoutError as exc:
            reason = self._abort_reason
            if reason is None or isinstance(exc, N58Error) or not scope.expired():
                raise
            raise LinkClosedError(f"{self.name}: {reason} during the request") from None

    def abort(self, reason: str) -> bool:
        """Interrupt the running lease, if any; True when there was one."""
        scope = self._scope
        if scope is None or scope.expired() or self._abort_reason is not None:
            return False
        self._abort_reason = reason
        scope.reschedule(asyncio.get_running_loop().time())
        return True
