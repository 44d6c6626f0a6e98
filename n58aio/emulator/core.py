"""What every command group of the emulated N58 works with: state, output, tasks, data phases.

:class:`ModuleCore` is the part of the module that the command files (``basic_commands``,
``network_commands``, ``link_commands``, ``http_commands``, ``transfer_commands``,
``fs_commands``, ``httpscfg``) use; :class:`~.module.Module` adds the session loop, the
lifecycle and the handler table that joins the groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

from . import framing
from .atline import AtLineReader, CommandLine, DataChunk
from .config import EmulatorConfig
from .faults import Faults, LinkKind
from .filesystem import ModuleFS
from .netlink import build_ssl_context
from .output import OutputChannel
from .state import Link, ModuleState, Service
from .syntax import Command

__all__ = ["FETCH_TIMEOUT", "Handler", "ModuleCore", "int_arg"]

FETCH_TIMEOUT = 120.0

Handler = Callable[[Command], Awaitable[None]]


def int_arg(text: str, low: int, high: int) -> int | None:
    """Decimal integer within [low, high], else None."""
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if low <= value <= high else None


class ModuleCore:
    """State, output and task plumbing of one emulated module, shared by the command groups."""

    faults: Faults  # set by the module, which is the faults' target

    def __init__(
        self,
        config: EmulatorConfig,
        fs: ModuleFS,
        output: OutputChannel,
        log: structlog.typing.FilteringBoundLogger,
        ident: int,
    ) -> None:
        self.cfg = config
        self.fs = fs
        self.out = output
        self.log = log
        self.ident = ident
        self.reader = AtLineReader()
        self.state = self._fresh_state(config.pdp_up)
        self.dead = False
        self._input = asyncio.Event()
        self._busy = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._session: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attach: asyncio.Task[None] | None = None

    def _fresh_state(self, pdp_up: bool) -> ModuleState:
        return ModuleState(
            echo=self.cfg.echo,
            cmee=self.cfg.cmee,
            pdp_up=pdp_up,
            ip_suffix=2 + self.ident % 250,
        )

    # ----------------------------------------------------------------- tasks

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{name}-{self.ident}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("task failed", task=task.get_name(), error=repr(task.exception()))

    def _run_action(self, action: Callable[[], object]) -> None:
        try:
            result = action()
        except Exception as exc:
            self.log.error("fault action failed", error=repr(exc))
            return
        if inspect.isawaitable(result):
            self._spawn(_await(result), "n58-fault-action")

    def in_output_order(self, action: Callable[[], object]) -> None:
        """Run ``action`` when the output queued so far has been written (fault hooks)."""
        if not self.dead:
            self.out.put_call(functools.partial(self._run_action, action))

    # ----------------------------------------------------------------- busy / idle

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self._idle.clear()
        else:
            self._idle.set()

    async def _wait_idle(self) -> None:
        """Wait until no command is being handled.

        Callers must queue their output right after this returns, without awaiting anything
        in between, or a new command could start first.
        """
        while self._busy:
            await self._idle.wait()

    async def _put_when_idle(self, data: bytes) -> None:
        await self._wait_idle()
        self.out.put(data)

    async def _report(self, text: str) -> None:
        """An unsolicited report, written between replies."""
        await self._wait_idle()
        self.out.put(framing.line(text))

    # ----------------------------------------------------------------- replies

    def _reply(self, data: bytes) -> None:
        self.out.put(data)

    def _cme(self, code: int) -> None:
        self._reply(framing.cme_error(code, self.state.cmee))

    def _ok(self, *lines: str) -> None:
        self._reply((framing.info(*lines) if lines else b"") + framing.OK)

    def _error(self) -> None:
        self._reply(framing.ERROR)

    # ----------------------------------------------------------------- input

    async def _next_event(self) -> CommandLine | DataChunk:
        while True:
            event = self.reader.next_event()
            if event is not None:
                return event
            self._input.clear()
            await self._input.wait()

    async def _read_data(
        self, length: int, timeout: float | None = None, expired: str = "OPERATION EXPIRED"
    ) -> bytes | None:
        """Prompt, then take exactly ``length`` raw bytes; after ``timeout`` (default: the
        configured data timeout) report ``expired`` and return None."""
        self.out.put(self.cfg.prompt)
        self.reader.expect_data(length)
        parts: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.cfg.data_timeout if timeout is None else timeout):
                while received < length:
                    event = await self._next_event()
                    if not isinstance(event, DataChunk):
                        continue
                    parts.append(event.data)
                    received += len(event.data)
                    me = asyncio.current_task()
                    for action in self.faults.take_data_hooks(received):
                        self._run_action(action)
                    if self._session is not me or self.dead:
                        return None  # the action rebooted the module or dropped the port
                    if self.state.echo and self.cfg.echo_body:
                        self.out.put(event.data)
        except TimeoutError:
            self.reader.cancel_data()
            self._reply(framing.line(expired))
            return None
        return b"".join(parts)

    # ----------------------------------------------------------------- server links

    def _services(self, which: LinkKind | None) -> list[Service]:
        if which == "http":
            return [self.state.http]
        if which == "https":
            return [self.state.https]
        return [self.state.http, self.state.https]

    def kill_links(self, which: LinkKind | None) -> int:
        """Abort server connections as if the server had closed them."""
        count = 0
        for svc in self._services(which):
            link = svc.link
            if link is not None and not link.killed:
                link.killed = True
                link.abort()
                count += 1
        return count

    def _drop_link(self, svc: Service) -> Link | None:
        """Close the service's link without any report."""
        link, svc.link = svc.link, None
        if link is not None:
            link.killed = True
            if link.relay is not None and link.relay is not asyncio.current_task():
                link.relay.cancel()
            link.abort()
        return link

    @property
    def _fetch_timeout(self) -> float:
        return max(FETCH_TIMEOUT, self.cfg.connect_timeout)

    def _ssl_context(self) -> ssl.SSLContext:
        return build_ssl_context(self.state.tls, self.fs, self.cfg.firmware)


async def _await(awaitable: Awaitable[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await awaitable
