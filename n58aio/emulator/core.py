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
from .linerate import LineRate
from .netlink import build_ssl_context
from .output import OutputChannel
from .state import Link, ModuleState, Service
from .syntax import Command
from .world import Network, SimCard

__all__ = ["FETCH_TIMEOUT", "Handler", "ModuleCore", "int_arg", "services"]

FETCH_TIMEOUT = 120.0

Handler = Callable[[Command], Awaitable[None]]


def int_arg(text: str, low: int, high: int) -> int | None:
    """Decimal integer within [low, high], else None."""
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if low <= value <= high else None


def services(module: ModuleCore) -> tuple[tuple[str, Callable[[], Service]], ...]:
    """The command stems of the two services (``HTTP``, ``HTTPS``), each with a getter of its
    state: read at call time, since a restart replaces the module's state."""
    return (("HTTP", lambda: module.state.http), ("HTTPS", lambda: module.state.https))


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
        rate: LineRate | None = None,
    ) -> None:
        self.cfg = config
        self.sim = SimCard(config.sim, config.sim_pin, config.sim_puk)
        self.net = Network(
            registration=config.registration,
            reject_cause=config.reject_cause,
            csq=config.csq,
            apn=config.network_apn,
            user=config.network_user,
            password=config.network_password,
        )
        self.rate = rate or LineRate(lambda: None, config.auto_baud)
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

    def _result(self, verbose: bytes, numeric: bytes) -> bytes:
        """A final result as ``ATV`` / ``ATQ`` want it (appendix E: 0 = OK, 4 = ERROR)."""
        if self.state.quiet:
            return b""
        return verbose if self.state.verbose else numeric + b"\r"

    def _cme(self, code: int) -> None:
        if self.state.cmee == 0 or self.state.quiet or not self.state.verbose:
            self._error()  # ATV0 / ATQ1: the numeric (or no) result code
        else:
            self._reply(framing.cme_error(code, self.state.cmee))

    def _ok(self, *lines: str) -> None:
        if lines:  # the captured form: OK follows the information text with no empty line
            final = self._result(framing.OK_AFTER_INFO, b"0")
            self._reply(framing.info(*lines) + final)
        else:
            self._reply(self._result(framing.OK, b"0"))

    def _error(self) -> None:
        self._reply(self._result(framing.ERROR, b"4"))

    # ----------------------------------------------------------------- restarts, line rate

    def restart(self, report: bool = True) -> None:
        """Restart the module (implemented by :class:`~.module.Module`)."""
        raise NotImplementedError

    def set_line_rate(self, rate: int | None) -> None:
        """Run at ``rate`` from now on (None: auto-baud); pacing follows when the emulator
        paces at all (``EmulatorConfig.baud`` set)."""
        self.rate.module_rate = rate
        if self.cfg.baud is not None:
            self.out.pacer.set_baud(rate or self.cfg.baud)
        self.log.info("line rate", rate=rate or "auto")

    # ----------------------------------------------------------------- network

    @property
    def sim_ready(self) -> bool:
        """The SIM is in and asks for nothing (or its PIN was given since boot)."""
        return self.sim.state == "ready" or (self.sim.state == "pin" and self.state.sim_unlocked)

    def sim_error(self) -> int | None:
        """The CME code a command needing the SIM gets now (None: the SIM is usable)."""
        if self.sim_ready:
            return None
        return {"absent": 10, "pin": 11, "puk": 12}.get(self.sim.state, 13)

    def reg_stat(self) -> int:
        """The ``<stat>`` of ``+CREG`` / ``+CEREG``: 0 without a usable SIM or radio."""
        if not self.sim_ready or self.state.cfun != 1:
            return 0
        return self.net.stat

    def registration_report(self, stem: str, n: int, query: bool) -> str:
        """``+CREG: ...`` / ``+CEREG: ...`` for mode ``n`` (the query form starts with n)."""
        stat = self.reg_stat()
        fields = [str(n)] if query else []
        fields.append(str(stat))
        if n >= 2 and stat in (1, 5):
            fields += ['"1A2B"', '"0C3D4E5F"', "7"]
        elif n >= 3 and stat == 3 and self.net.reject_cause is not None:
            fields += ["", "", "", "0", str(self.net.reject_cause)]
        return f"+{stem}: " + ",".join(fields)

    def announce_registration(self) -> None:
        """The registration reports enabled with ``AT+CREG=n`` / ``AT+CEREG=n`` / ``AT+CGREG=n``;
        a data link dies with the registration."""
        for stem, n in (
            ("CREG", self.state.creg_n),
            ("CGREG", self.state.cgreg_n),
            ("CEREG", self.state.cereg_n),
        ):
            if n:
                self._spawn(self._report(self.registration_report(stem, n, False)), "n58-reg")
        if self.reg_stat() not in (1, 5):
            self.lose_data_link()

    def lose_data_link(self) -> bool:
        """The network drops the data link: links closed, ``GPRS DISCONNECTION`` reported."""
        if self._attach is not None:
            self._attach.cancel()
            self._attach = None
        if not self.state.pdp_up:
            return False
        self.state.pdp_up = False
        self.kill_links(None)
        self.log.info("data link lost")
        self._spawn(self._report("GPRS DISCONNECTION"), "n58-gprs-down")
        return True

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
