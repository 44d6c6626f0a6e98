"""Keeping a module up: detect a restart, a lost data link or registration, a module that stops
answering; re-run the bring-up with the last parameters and line speed; report what happened.

A single report is a hint, not a proof (``+PBREADY`` may be lost, a restart may show none): the
:class:`Supervisor` judges by the module's state. After a probe it reads a setting a restart
resets (``AT+CMEE?``, which the bring-up sets to 1, and ``AT+IPR?`` once the line was switched),
the registration and the data link (``AT+XIIC?``). A module silent at the line rate in use is
looked for at the initial rate (it forgets ``AT+IPR`` when it restarts), and a module silent at
both is reset with the manual's ``AT+CFUN=1,1``. Reports (``+PBREADY``, ``GPRS DISCONNECTION``,
``+CREG`` / ``+CEREG`` leaving the registered states) start a recovery in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import structlog

from .bringup import BringUp, OnStep, bring_up, registration
from .channel import ModemChannel
from .commands.link import LinkStatus, parse_xiic
from .commands.network import parse_registration
from .errors import (
    CommandError,
    CommandTimeout,
    ConnectError,
    ModemUnresponsiveError,
    N58Error,
    PinUnclearError,
    PinWithheldError,
    PoolTimeout,
    PortClosedError,
    RequestTimeout,
    WrongPinError,
)
from .linespeed import find_module, switch_line_rate
from .redact import loggable_line

__all__ = ["EventKind", "SupervisionEvent", "Supervisor"]

EventKind = Literal[
    "restart",
    "link_lost",
    "registration_lost",
    "unresponsive",
    "reset",
    "recovered",
    "recovery_failed",
]
"""What happened: ``restart`` (the module restarted: seen by its boot report or by its state),
``link_lost`` (data link down), ``registration_lost``, ``unresponsive`` (no answer at any rate),
``reset`` (``AT+CFUN=1,1`` sent), ``recovered`` (brought up again), ``recovery_failed``."""

RESET_WAIT = 10.0
"""Seconds given to a module to boot after ``AT+CFUN=1,1`` before it is probed again."""
RECOVERY_TIMEOUT = 60.0
_LOST_REGISTRATION = ("+CREG:", "+CGREG:", "+CEREG:")
_SUSPECTS: tuple[type[Exception], ...] = (CommandTimeout, RequestTimeout, ConnectError)
"""Failures that may hide a module fault no report told (a restart without ``+PBREADY``, a
wedge, a lost data link): a command or a response that never came, a link setup refused.
Other failures (a link closed, damaged output) are the server's or the line's, or come with a
report that already started a recovery: they are not a reason to query the module."""


@dataclass(frozen=True, slots=True)
class SupervisionEvent:
    """One thing that happened to the module: ``kind``, a short ``detail``, ``at`` (epoch s)."""

    kind: EventKind
    detail: str
    at: float


class EventStream:
    """Async iterator over :class:`SupervisionEvent`; holds at most ``maxlen`` unread events
    (the oldest dropped first). Close it (or leave ``async with``) to unsubscribe."""

    def __init__(self, owner: Supervisor, maxlen: int) -> None:
        self._owner = owner
        self._events: deque[SupervisionEvent] = deque(maxlen=maxlen)
        self._wakeup = asyncio.Event()
        self._closed = False

    def _put(self, event: SupervisionEvent) -> None:
        self._events.append(event)
        self._wakeup.set()

    def close(self) -> None:
        """Unsubscribe; a waiting iteration ends."""
        self._closed = True
        self._owner._streams.discard(self)
        self._wakeup.set()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> SupervisionEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._events.popleft()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class Supervisor:
    """Watches one module and brings it back up; see the module docstring.

    ``counts`` holds how often each :data:`EventKind` happened; ``reset_wait`` is the time
    given to the module to boot after ``AT+CFUN=1,1`` (:data:`RESET_WAIT`).
    """

    def __init__(
        self,
        channel: ModemChannel,
        log: structlog.typing.FilteringBoundLogger,
        *,
        line_rate: int,
        initial_rate: int,
        port: str | None = None,
    ) -> None:
        self.channel = channel
        self.port = port or channel.name
        self.log = log
        self.line_rate = line_rate
        self.initial_rate = initial_rate
        self.params: BringUp | None = None
        self.reset_wait = RESET_WAIT
        self.counts: dict[EventKind, int] = {}
        self._streams: set[EventStream] = set()
        self._callbacks: list[Callable[[SupervisionEvent], object]] = []
        self._lock = asyncio.Lock()
        self._noticed: set[EventKind] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._baseline: tuple[str | None, ...] | None = None
        self.resends = 0
        """Requests sent again after a recovery (see :mod:`n58aio.supervised`)."""
        self.repairs = 0
        """How many times the module was found at fault and brought back (each ``recovered``
        event): an operation that failed while this changed may be tried again."""

    # ------------------------------------------------------------------ events
    def events(self, maxlen: int = 256) -> EventStream:
        """Async iterator over what happens from now on."""
        stream = EventStream(self, maxlen)
        self._streams.add(stream)
        return stream

    def on_event(self, callback: Callable[[SupervisionEvent], object]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def _emit(self, kind: EventKind, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        event = SupervisionEvent(kind, detail, time.time())
        warn = kind in ("unresponsive", "recovery_failed", "reset")
        (self.log.warning if warn else self.log.info)(f"supervision.{kind}", detail=detail)
        for stream in list(self._streams):
            stream._put(event)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception as exc:  # a gateway's callback must not stop the recovery
                self.log.warning("supervision.callback_failed", error=repr(exc))

    def _notice(self, kind: EventKind, detail: str) -> None:
        """Report ``kind`` once per recovery."""
        if kind not in self._noticed:
            self._noticed.add(kind)
            self._emit(kind, detail)

    # ------------------------------------------------------------------ watching
    async def attach(
        self, params: BringUp, timeout: float, on_step: OnStep | None = None
    ) -> LinkStatus:
        """:meth:`~n58aio.Modem.attach`: the bring-up and the line rate, never at the same time
        as a recovery; then keep ``params`` for every later bring-up, note the settings a
        restart resets, and watch the reports. ``on_step`` is told each step done."""
        params.check()
        async with self._lock:
            status = await bring_up(
                self.channel, params, timeout, self.log, on_step, port=self.port
            )
            before = self.channel.baudrate
            if before != self.line_rate:
                await switch_line_rate(self.channel, self.line_rate, self.log)
            if on_step is not None:
                on_step("line_speed", f"{self.channel.baudrate} baud ({self._how(before)})")
            self._start(params)
            self._baseline = await self._markers()
            if self._noticed:  # what the reports told meanwhile is repaired
                self._repaired(f"attached again, address {status.address}")
            self._noticed.clear()
        return status

    def _how(self, before: int | None) -> str:
        """How the line got its rate: the ``line_speed`` step's words (the ``module`` step
        already named the rate the module answered at, which may be the switched one)."""
        if self.line_rate == self.initial_rate:
            return "as opened"
        if before == self.line_rate:
            return f"switched from {self.initial_rate} when the port was opened"
        return f"switched from {before or self.initial_rate} now"

    def _start(self, params: BringUp) -> None:
        self.params = params
        if not self._unsubscribe:
            self._unsubscribe = [
                self.channel.on_urc("+PBREADY", self._on_report),
                self.channel.on_urc("GPRS DISCONNECTION", self._on_report),
                self.channel.on_urc("+CREG:", self._on_report),
                self.channel.on_urc("+CGREG:", self._on_report),
                self.channel.on_urc("+CEREG:", self._on_report),
            ]

    def close(self) -> None:
        """Stop watching; end every event iterator."""
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe = []
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        for stream in list(self._streams):
            stream.close()

    def _on_report(self, line: str) -> None:
        if self._lock.locked():
            # A bring-up or recovery is running: its own steps make these reports (the
            # +PBREADY of a PIN taken, +CEREG while registering) and it judges the module by
            # its state, not by them.
            self.log.debug("supervision.report_during_recovery", report=line.split(":", 1)[0])
            return
        if line.startswith("+PBREADY"):
            self._notice("restart", "boot report +PBREADY")
        elif line.startswith("GPRS DISCONNECTION"):
            self._notice("link_lost", loggable_line(line))
        elif line.startswith(_LOST_REGISTRATION):
            prefix = line.split(":", 1)[0]
            reg = parse_registration([line], prefix, query=False)
            if reg is None or reg.registered:
                return
            self._notice("registration_lost", f"{loggable_line(line)} ({reg.state})")
        else:
            return
        self._schedule()

    def check_soon(self) -> None:
        """Have the module checked (and repaired) in the background, as after a report: an
        operation failed in a way that may be the module's (a command timed out)."""
        if not self._lock.locked():
            self._schedule()

    def _schedule(self) -> None:
        if self.channel.closed or self.params is None:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._background(), name=f"n58aio-supervise-{self.channel.name}"
            )

    async def _background(self) -> None:
        await asyncio.sleep(0.1)  # let the reports of the same event arrive
        with contextlib.suppress(PortClosedError):
            try:
                await self.recover()
            except N58Error as exc:
                self.log.warning("supervision.background_failed", error=str(exc))

    # ------------------------------------------------------------------ recovery
    async def recover(self, timeout: float = RECOVERY_TIMEOUT) -> LinkStatus:
        """Find the module, tell what happened from its state, bring it up again with the last
        parameters and line rate; return the data link. Cheap when all is well."""
        async with self._lock:
            try:
                async with asyncio.timeout(timeout):
                    status = await self._recover(timeout)
            except TimeoutError as exc:
                if isinstance(exc, N58Error):
                    self._failed(exc)
                    raise
                error = CommandTimeout("recovery", timeout)
                self._failed(error)
                raise error from None
            except N58Error as exc:
                self._failed(exc)
                raise
            if self._noticed - {"recovered"}:
                self._repaired(f"data link up, address {status.address}")
            self._noticed.clear()
            return status

    def _repaired(self, detail: str) -> None:
        self.repairs += 1
        self._emit("recovered", detail)

    def explains(self, line: str) -> bool:
        """Whether the report ``line`` may be one the supervisor's own bring-up caused (the
        ``+PBREADY`` of a PIN taken, ``+CEREG`` while registering): it comes while a bring-up
        or recovery runs. A download or a pool does not abandon a request because of it (the
        recovery judges the module by its state)."""
        return self._lock.locked()

    @property
    def supervising(self) -> bool:
        """True once :meth:`attach` ran (there are parameters to bring the module up with)."""
        return self.params is not None and not self.channel.closed

    @property
    def settled(self) -> bool:
        """True when no recovery (nor attach) is scheduled or running: :meth:`ready` would
        return at once (checked first on the hot path of commands, without a timer)."""
        task = self._task
        return (task is None or task.done()) and not self._lock.locked()

    async def ready(self) -> None:
        """Wait until no recovery (nor attach) is scheduled or running; its outcome is not
        raised here (the operation that waits finds out by trying)."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task})
        if self._lock.locked():
            async with self._lock:
                pass

    async def after_failure(
        self,
        exc: BaseException,
        timeout: float = RECOVERY_TIMEOUT,
        *,
        suspect: bool | None = None,
    ) -> None:
        """An operation failed with ``exc``: wait for a recovery the reports started; when the
        failure may hide a module fault no report told (:data:`_SUSPECTS`: a timeout, a refused
        link setup), check the module by its state and repair it (:meth:`recover`). Never for a
        wait for a busy modem, an HTTP status or a refused value; never a reset because of what
        a server sent (a damaged or forged response is not a suspect). A recovery that fails
        is reported (``recovery_failed``), not raised: the caller raises its own error.
        ``suspect`` overrides the judgement by type (a module-side transfer's "no data link")."""
        if not self.supervising:
            return
        await self.ready()
        if suspect is None:
            suspect = isinstance(exc, _SUSPECTS) and not isinstance(exc, PoolTimeout)
        if not suspect:
            return
        try:
            await self.recover(timeout)
        except PortClosedError:
            return
        except N58Error as error:
            self.log.warning("supervision.after_failure", error=f"{type(error).__name__}")

    def _failed(self, exc: N58Error) -> None:
        if not isinstance(exc, PortClosedError):
            self._emit("recovery_failed", f"{type(exc).__name__}: {exc}")
        self._noticed.clear()

    async def _recover(self, timeout: float) -> LinkStatus:
        channel = self.channel
        switched = self.line_rate != self.initial_rate
        await self._find()
        if switched and channel.baudrate != self.line_rate:
            self._notice("restart", f"the module answers at {channel.baudrate} again")
        if self._baseline is not None and await self._markers() != self._baseline:
            self._notice("restart", "its settings are back to their defaults")
        lines = await self._lines("AT+XIIC?")
        if lines is not None and not parse_xiic(lines).up and "restart" not in self._noticed:
            self._notice("link_lost", "AT+XIIC? answers 0")
        reg = await registration(channel)
        if not reg.registered and "restart" not in self._noticed:
            self._notice("registration_lost", reg.state)
        params = self.params or BringUp()
        try:
            status = await bring_up(channel, params, timeout, self.log, port=self.port)
        except (WrongPinError, PinWithheldError, PinUnclearError):
            self.params = replace(params, pin=None)  # never sent again
            raise
        if channel.baudrate != self.line_rate or (switched and "restart" in self._noticed):
            await switch_line_rate(channel, self.line_rate, self.log)  # forgotten at restart
        self._baseline = await self._markers()
        return status

    async def _find(self) -> None:
        """Probe at the current rate, then the initial one; reset a module silent at both."""
        channel = self.channel
        rates = (channel.baudrate or self.initial_rate, self.line_rate, self.initial_rate)
        try:
            await find_module(channel, rates, self.log)
            return
        except CommandTimeout:
            tried = ", ".join(map(str, dict.fromkeys(rates)))
            self._notice("unresponsive", f"no answer at {tried}")
        # the manual's reset; the module may still read commands while it writes nothing
        for rate in dict.fromkeys(rates):
            channel.set_line_rate(rate)
            channel.write_blind("AT+CFUN=1,1")
            # out at this rate before the next one is set (a UART sends at the rate set then)
            await asyncio.sleep(channel.line_time(16) + 0.05)
        self._notice("reset", "AT+CFUN=1,1 sent")
        await asyncio.sleep(self.reset_wait)
        try:
            await find_module(channel, (self.initial_rate, self.line_rate), self.log)
        except CommandTimeout:
            raise ModemUnresponsiveError("not even after AT+CFUN=1,1") from None
        self._notice("restart", "after AT+CFUN=1,1")

    async def _markers(self) -> tuple[str | None, ...]:
        """Settings the bring-up makes and a restart resets: the error mode (``AT+CMEE?``),
        the registration report mode (``AT+CEREG?``'s first field), the line rate
        (``AT+IPR?``). Compared with their values after the last bring-up."""
        cmee = await self._lines("AT+CMEE?")
        cereg = await self._lines("AT+CEREG?")
        ipr = await self._lines("AT+IPR?")
        mode = None
        for line in cereg or []:
            if line.upper().startswith("+CEREG:"):
                mode = line.split(":", 1)[1].split(",")[0].strip()
        return (_value(cmee), mode, _value(ipr))

    async def _lines(self, command: str) -> list[str] | None:
        try:
            return (await self.channel.command(command)).lines
        except CommandError:
            return None


def _value(lines: list[str] | None) -> str | None:
    for line in lines or []:
        if ":" in line:
            return line.split(":", 1)[1].strip()
    return None
