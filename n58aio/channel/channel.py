"""The asyncio shell that runs the sans-IO :class:`~n58aio.channel.core.ChannelCore`.

:class:`ModemChannel` is an ``asyncio.Protocol``: it hands the core the bytes read, the callers'
commands, cancellations and stream drains, each with the loop's time, carries out the actions the
core returns (write, settle a caller's future, route a report, pause or resume reading), and runs
ONE timer, at the core's next deadline. Every rule (the command exchange, the resync, trust,
backpressure, timeouts) lives in the core: see its module docstring and docs/architecture.md.

The channel keeps the module's echo on and trusts a reply only after the echo of its own
command, so a late or duplicate ``OK`` never answers the next command. It starts out of step,
and goes out of step again after a timeout, a cancellation, malformed input, or the end of a
receive-mode-0 response: then, before anything else, it sends a probe carrying a fresh random
token (``AT+N58SYNC=<token>``, a command the module does not know) and, where the line itself
is not trusted, discards every byte until the probe's echo.

The transport may be a serial transport or any pipe that offers ``write``, ``pause_reading``,
``resume_reading``, ``is_closing``, ``close`` and ``get_extra_info("serial")``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import structlog

from ..errors import N58Error, PortClosedError
from .core import (
    CHUNK_STALL,
    RESYNC_GRACE,
    SYNC_PROBE_PREFIX,
    ChannelCore,
    ModuleEvent,
    Notify,
    PauseReading,
    Reply,
    Report,
    ResumeReading,
    Settle,
    Trust,
    Write,
    sync_probe,
)
from .streams import Decoder, PayloadStream
from .urcs import UrcCallback, UrcRouter, UrcSubscription

__all__ = ["RESYNC_GRACE", "SYNC_PROBE_PREFIX", "ModemChannel", "Reply", "sync_probe"]

T = TypeVar("T")


class ModemChannel(asyncio.Protocol):
    """Protocol object that runs the channel core: commands, reports and payload streams."""

    def __init__(
        self,
        *,
        name: str = "modem",
        log: structlog.typing.FilteringBoundLogger | None = None,
        baudrate: int | None = None,
        timeout_slack: float = 0.5,
        max_line: int | None = None,
        echoes_data: bool = True,
        module_buffer: int = 65536,
    ) -> None:
        self.name = name
        self.log = log or structlog.get_logger("n58aio").bind(modem=name)
        self.core = ChannelCore(
            name=name,
            log=self.log,
            baudrate=baudrate,
            timeout_slack=timeout_slack,
            max_line=max_line,
            echoes_data=echoes_data,
            module_buffer=module_buffer,
        )
        self.core.resync_grace = RESYNC_GRACE  # (read here: tests patch this module's value)
        self.parser = self.core.parser
        self.urcs = UrcRouter(self.log)
        self.bytes_written = 0
        self.bytes_read = 0
        self._transport: asyncio.BaseTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._futures: dict[int, asyncio.Future[Reply]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._drain_scheduled = False
        self._event_callbacks: list[Callable[[ModuleEvent], None]] = []
        self._connected = asyncio.Event()

    # ------------------------------------------------------------------ settings (the core's)
    @property
    def baudrate(self) -> int | None:
        """The host port's line rate, when known (line-time timeouts follow it)."""
        return self.core.baudrate

    @baudrate.setter
    def baudrate(self, value: int | None) -> None:
        self.core.baudrate = value

    @property
    def timeout_slack(self) -> float:
        """Seconds added to the manual's timeout of a command."""
        return self.core.timeout_slack

    @timeout_slack.setter
    def timeout_slack(self, value: float) -> None:
        self.core.timeout_slack = value

    @property
    def module_buffer(self) -> int:
        """Bytes of server data the module may hold queued for the line (the close of an
        abandoned response, and a probe behind it, may wait until they are written)."""
        return self.core.module_buffer

    @module_buffer.setter
    def module_buffer(self, value: int) -> None:
        self.core.module_buffer = value

    @property
    def resync_grace(self) -> float:
        """Seconds (of line time) a probe waits for its answer before the next goes out, and
        the grace for the answer to a command sent just before an unannounced restart (2 s: a
        busy module answers its queued probes in order; tests and simulations shorten it)."""
        return self.core.resync_grace

    @resync_grace.setter
    def resync_grace(self, value: float) -> None:
        self.core.resync_grace = value

    @property
    def module_data_timeout(self) -> float:
        """Seconds the module waits for the data after its ``>`` prompt (30 s on the N58).

        The data is written only when the prompt came early enough for all of it to arrive
        within half that time: later, the module may have given up waiting already and would
        read the data as commands. The command then fails (``OPERATION EXPIRED``)."""
        return self.core.module_data_timeout

    @module_data_timeout.setter
    def module_data_timeout(self, value: float) -> None:
        self.core.module_data_timeout = value

    # ------------------------------------------------------------------ counters (the core's)
    @property
    def resyncs(self) -> int:
        """Times the channel proved itself back in step with a probe."""
        return self.core.resyncs

    @property
    def stray_replies(self) -> int:
        """Final results that answered nothing (late, duplicate, or before a command's echo)."""
        return self.core.stray_replies

    @property
    def wire_errors(self) -> int:
        """Malformed inputs seen (each distrusts the line until a probe)."""
        return self.core.wire_errors

    @property
    def dropped_payload_bytes(self) -> int:
        """Payload bytes that came for no open stream."""
        return self.core.dropped_payload_bytes

    @property
    def read_pauses(self) -> int:
        """Times reading stopped because a stream's consumer fell behind (backpressure)."""
        return self.core.read_pauses

    @property
    def lost_frames(self) -> int:
        """Payload chunks whose bytes stopped arriving (a restart or a loss cut them)."""
        return self.core.lost_frames

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = transport
        self._connected.set()

    def data_received(self, data: bytes) -> None:
        """Hand the bytes to the core and carry out what it decides (the reader)."""
        self.bytes_read += len(data)
        core = self.core
        now = self._now()
        core.receive(data, now)
        if core._actions:
            self._run()
        elif core.parser.in_payload and self._timer_at > now + CHUNK_STALL:
            self._arm()  # a chunk in progress: its stall is watched

    def connection_lost(self, exc: Exception | None) -> None:
        """The port closed or vanished: fail every waiter."""
        reason = f"port closed ({exc})" if exc else "port closed"
        self._fail_all(PortClosedError(f"{self.name}: {reason}"))

    # ------------------------------------------------------------------ public
    @property
    def closed(self) -> bool:
        """True once the port is gone."""
        return self.core.closed is not None

    @property
    def needs_resync(self) -> bool:
        """True until a probe has proven the channel in step: at first, and again after a
        timeout, a cancellation, malformed input or the end of a receive-mode-0 response."""
        return self.core.needs_resync

    @property
    def distrusted(self) -> bool:
        """True while the line itself is not trusted: every byte is discarded until a probe's
        echo (after malformed input, or the end of receive-mode-0 raw bytes)."""
        return self.core.trust is Trust.DISTRUSTED

    def line_time(self, size: int) -> float:
        """Seconds that ``size`` bytes take on the line (0 when the rate is unknown)."""
        return self.core.line_time(size)

    def set_line_rate(self, baudrate: int) -> None:
        """Set the host port to ``baudrate`` now (after the module was switched with
        ``AT+IPR``); line-time timeouts follow. The channel is then out of step until a probe
        proves it (:meth:`resync`, or lazily before the next command)."""
        transport = self._transport
        port = transport.get_extra_info("serial") if transport is not None else None
        if port is None:
            raise PortClosedError(f"{self.name}: the port has no line rate to set")
        port.baudrate = baudrate
        self.core.line_rate_changed(baudrate)
        self.log.info("line.rate", baudrate=baudrate)

    def write_blind(self, command: str) -> None:
        """Write ``command`` at once, without waiting for an answer: the last resort for a
        module that answers nothing (the manual's reset, ``AT+CFUN=1,1``). The channel is out
        of step afterwards: nothing is trusted until a probe comes back."""
        self.core.write_blind(command, self._now())
        self._run()

    def distrust(self, reason: str, *, before_probe: Iterable[str] = ()) -> None:
        """Stop trusting the line now: the command in flight fails with
        :class:`~n58aio.errors.ProtocolError`, so does every unfinished payload stream, and
        every byte is discarded until a probe (sent at once, in the background) comes back.
        ``before_probe`` are command lines written blind just before the probe (the close of a
        link whose server may still be sending): the module handles them first."""
        self.core.distrust(reason, self._now(), before_probe=before_probe)
        self._run()

    async def wait_connected(self) -> None:
        """Wait until the transport is attached."""
        await self._connected.wait()

    def close(self) -> None:
        """Close the port; waiters fail with :class:`~n58aio.errors.PortClosedError`."""
        self._fail_all(
            PortClosedError(f"{self.name}: port closed by the application"), orderly=True
        )
        if self._transport is not None:
            self._transport.close()

    def default_timeout(self, command: str, data: bytes | None = None) -> float:
        """The manual's timeout for ``command``, plus slack and the line time of the bytes."""
        return self.core.default_timeout(command, data)

    async def command(
        self,
        command: str,
        *,
        timeout: float | None = None,
        data: bytes | None = None,
        reply_prefix: str | None = None,
        reply_match: Callable[[str], bool] | None = None,
        max_reply_lines: int | None = None,
    ) -> Reply:
        """Send ``command`` and return its :class:`Reply`; one command in flight at a time.

        ``data`` is written after the ``>`` prompt (POST bodies, custom packets). Raises
        :class:`~n58aio.errors.CommandError` for an error result,
        :class:`~n58aio.errors.CommandTimeout` when no final result comes within ``timeout``
        (counted from this call, whatever the channel waited for meanwhile: a busy module, a
        resynchronisation), and :class:`~n58aio.errors.PortClosedError` when the port is gone.
        """
        call_id = self.core.submit(
            command,
            self._now(),
            timeout=timeout,
            data=data,
            reply_prefix=reply_prefix,
            reply_match=reply_match,
            max_reply_lines=max_reply_lines,
        )
        # _await inlined: one coroutine less per command
        future: asyncio.Future[Reply] = (self._loop or asyncio.get_running_loop()).create_future()
        self._futures[call_id] = future
        self._run()
        try:
            return await future
        except asyncio.CancelledError:
            if self._futures.pop(call_id, None) is not None:
                self.core.cancel(call_id, self._now())
                self._run()
            raise

    def on_urc(self, prefix: str, callback: UrcCallback) -> Callable[[], None]:
        """Call ``callback(line)`` for each report starting with ``prefix``; return an
        unsubscribe function. Callbacks run off the reader (they may send commands)."""
        return self.urcs.add_callback(prefix, callback)

    def on_module_event(self, callback: Callable[[ModuleEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for each typed module event (a restart, a link closed);
        return an unsubscribe function. Callbacks run inside the reader: keep them short."""
        self._event_callbacks.append(callback)
        return lambda: self._event_callbacks.remove(callback)

    def subscribe(self, prefix: str = "", maxlen: int = 1024) -> UrcSubscription:
        """Async iterator over reports starting with ``prefix`` (empty: every report)."""
        subscription = self.urcs.subscribe(prefix, maxlen)
        if self.core.closed is not None:
            subscription._fail(self.core.closed)
        return subscription

    def open_stream(
        self, source: Any, decoder: Decoder[T], *, max_buffer: int = 256 * 1024
    ) -> PayloadStream[T]:
        """Register the stream that receives the next payload of ``source``."""
        stream: PayloadStream[T] = PayloadStream(
            source, decoder, max_buffer=max_buffer, on_drain=self._on_drain
        )
        self.core.open_stream(source, stream)
        return stream

    def close_stream(self, stream: PayloadStream[Any]) -> None:
        """Unregister ``stream`` and drop what it holds; later payload of its family is dropped."""
        stream.detach()
        self.core.close_stream(stream, self._now())
        self._run()

    async def resync(self) -> None:
        """Bring the channel back in step with the modem now (normally done lazily)."""
        await self._await(self.core.submit_resync(self._now()))

    # ------------------------------------------------------------------ running the core
    def _now(self) -> float:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    async def _await(self, call_id: int) -> Reply:
        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._futures[call_id] = future
        self._run()
        try:
            return await future
        except asyncio.CancelledError:
            if self._futures.pop(call_id, None) is not None:
                self.core.cancel(call_id, self._now())
                self._run()
            raise

    def _run(self) -> None:
        """Carry out the core's actions, then arm the timer for its next deadline."""
        for action in self.core.take_actions():
            if isinstance(action, Write):
                self._write(action.data)
            elif isinstance(action, Settle):
                future = self._futures.pop(action.call_id, None)
                if future is not None and not future.done():
                    outcome = action.outcome
                    if isinstance(outcome, N58Error):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            elif isinstance(action, Report):
                self.urcs.dispatch(action.line)
            elif isinstance(action, PauseReading):
                transport = self._transport
                if isinstance(transport, asyncio.ReadTransport):
                    transport.pause_reading()
            elif isinstance(action, ResumeReading):
                transport = self._transport
                if isinstance(transport, asyncio.ReadTransport) and not transport.is_closing():
                    transport.resume_reading()
            elif isinstance(action, Notify):
                for callback in list(self._event_callbacks):
                    callback(action.event)
        self._arm()

    def _arm(self) -> None:
        """One timer at the core's next deadline. A timer armed no later is kept (it re-arms
        itself when it fires early for the work then), so a run of commands or a download sets
        one timer per period instead of one per event."""
        deadline = self.core.next_deadline()
        if deadline is None or deadline >= self._timer_at or self.core.closed is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._fired)

    def _fired(self) -> None:
        at = self._timer_at
        self._timer = None
        self._timer_at = math.inf
        # the loop may run a timer a clock tick early: the core sees at least its deadline
        self.core.tick(max(self._now(), at))
        self._run()

    def _on_drain(self) -> None:
        # Called inside a consumer's receive(): the port is read again at once, and the bytes
        # the parser holds are processed on the reader's own turn of the loop.
        core = self.core
        if core.closed is None and core.drained(self._now(), process=False):
            self._run()
            if not self._drain_scheduled:
                self._drain_scheduled = True
                (self._loop or asyncio.get_running_loop()).call_soon(self._drained)

    def _drained(self) -> None:
        self._drain_scheduled = False
        self.core.process_pending(self._now())
        self._run()

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or not isinstance(transport, asyncio.WriteTransport):
            raise PortClosedError(f"{self.name}: port is not open")
        self.bytes_written += len(data)
        transport.write(data)

    # ------------------------------------------------------------------ teardown
    def _fail_all(self, exc: PortClosedError, *, orderly: bool = False) -> None:
        core = self.core
        if core.closed is not None:
            return
        if orderly:
            self.log.info("port.closed", reason=str(exc))
        else:
            self.log.warning("port.closed", reason=str(exc))
        core.close(exc)
        self._run()
        for future in self._futures.values():
            if not future.done():
                future.set_exception(exc)
        self._futures.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = math.inf
        self.urcs.close(exc)
