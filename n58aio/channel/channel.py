"""The asyncio shell around the sans-IO parser: one command at a time, reports, payload streams.

:class:`ModemChannel` is an ``asyncio.Protocol``. ``data_received`` feeds the
:class:`~n58aio.wire.AtParser` and routes each event: reply lines and final results to the
command in flight, reports to the :class:`~n58aio.channel.urcs.UrcRouter`, payload to the
registered :class:`~n58aio.channel.streams.PayloadStream`. It never blocks: when a stream's
consumer falls behind, reading from the port pauses until it catches up.

After a command times out or its caller is cancelled the channel is *not* trusted to be in
sync: before the next command it waits briefly for the late reply, then sends a probe
(``AT+CMEE?``) and accepts only the final result that follows the probe's own ``+CMEE:`` line,
so a late ``OK`` can never be taken as the next command's reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from ..commands.http import HTTP, HTTPS
from ..commands.timeouts import manual_timeout
from ..errors import (
    CommandError,
    CommandTimeout,
    LinkClosedError,
    N58Error,
    PortClosedError,
    ProtocolError,
)
from ..redact import redact
from ..wire import (
    DEFAULT_MAX_LINE,
    AtParser,
    Echo,
    Event,
    FinalResult,
    InfoLine,
    NeedData,
    Payload,
    Prompt,
    RawData,
    RawEnd,
    RawStart,
    Source,
    Urc,
    WireError,
    command_name,
    encode_command,
)
from .streams import Decoder, PayloadStream
from .urcs import UrcCallback, UrcRouter, UrcSubscription

__all__ = ["ModemChannel", "Reply"]

T = TypeVar("T")

_RESYNC_PROBE = "AT+CMEE?"
_RESYNC_GRACE = 2.0
_RESYNC_ATTEMPTS = 3
_LINK_CLOSED: dict[Source, tuple[str, str]] = {
    family.source: family.closed_reports() for family in (HTTP, HTTPS)
}
_CLOSE_COMMANDS = frozenset({"HTTPCLOSE", "HTTPSCLOSE"})
_RESTARTED = "+PBREADY"
# What a report looks like: "+NAME: ..." or a bare word or two in capitals (RING, NO CARRIER).
# Any other text between the chunks of a response means a chunk's header was lost.
_REPORT_SHAPE = re.compile(r"^(\+[A-Za-z0-9_]+(\s*:.*)?|[A-Z][A-Z ]*)$")


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful command's reply: its information ``lines`` and the ``final`` result."""

    command: str
    lines: list[str]
    final: str = "OK"


@dataclass(slots=True)
class _Pending:
    command: str
    data: bytes | None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    lines: list[str] = field(default_factory=list)
    outcome: Reply | N58Error | None = None
    prompted: bool = False
    echo: bool = False
    probe: bool = False
    abandoned: bool = False  # the caller gave up (timeout or cancellation)
    data_done: bool = False  # the data was written, or the module cannot be waiting for it
    sent_at: float = 0.0
    reply_prefix: str | None = None
    reply_match: Callable[[str], bool] | None = None
    max_reply_lines: int | None = None

    def settle(self, outcome: Reply | N58Error) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.set()


class ModemChannel(asyncio.Protocol):
    """Protocol object that owns the parser, the command queue, reports and payload streams."""

    def __init__(
        self,
        *,
        name: str = "modem",
        log: structlog.typing.FilteringBoundLogger | None = None,
        baudrate: int | None = None,
        timeout_slack: float = 0.5,
        max_line: int | None = None,
    ) -> None:
        self.name = name
        self.log = log or structlog.get_logger("n58aio").bind(modem=name)
        self.baudrate = baudrate
        self.timeout_slack = timeout_slack
        self.parser = AtParser(max_line=max_line or DEFAULT_MAX_LINE, merge_payload=True)
        self.urcs = UrcRouter(self.log)
        self.wire_errors = 0
        self.dropped_payload_bytes = 0
        self.bytes_written = 0
        self.bytes_read = 0
        self.read_pauses = 0
        """Times reading stopped because a stream's consumer fell behind (backpressure)."""
        self._transport: asyncio.BaseTransport | None = None
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._needs_resync = False
        self._streams: dict[Source, PayloadStream[Any]] = {}
        self._paused = False
        self._closed: PortClosedError | None = None
        self._connected = asyncio.Event()
        self._raw_idle = asyncio.Event()
        self._raw_idle.set()
        self.module_data_timeout = 30.0
        """Seconds the module waits for the data after its ``>`` prompt (30 s on the N58).

        The data is written only when the prompt came early enough for all of it to arrive
        within half that time: later, the module may have given up waiting already and would
        read the data as commands. The command then fails (``OPERATION EXPIRED``)."""

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = transport
        self._connected.set()

    def data_received(self, data: bytes) -> None:
        """Feed the parser and route the events (the reader)."""
        self.bytes_read += len(data)
        self.parser.receive_data(data)
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        """The port closed or vanished: fail every waiter."""
        reason = f"port closed ({exc})" if exc else "port closed"
        self._fail_all(PortClosedError(f"{self.name}: {reason}"))

    # ------------------------------------------------------------------ public
    @property
    def closed(self) -> bool:
        """True once the port is gone."""
        return self._closed is not None

    @property
    def needs_resync(self) -> bool:
        """True after a timeout or cancellation, until the next successful resynchronisation."""
        return self._needs_resync

    async def wait_connected(self) -> None:
        """Wait until the transport is attached."""
        await self._connected.wait()

    def close(self) -> None:
        """Close the port; waiters fail with :class:`~n58aio.errors.PortClosedError`."""
        if self._transport is not None:
            self._transport.close()
        self._fail_all(PortClosedError(f"{self.name}: port closed by the application"))

    def default_timeout(self, command: str, data: bytes | None = None) -> float:
        """The manual's timeout for ``command``, plus slack and the line time of the bytes."""
        timeout = manual_timeout(command) + self.timeout_slack
        if self.baudrate:
            size = len(command) + 1 + (len(data) if data else 0)
            timeout += 2 * size * 10 / self.baudrate  # out, and the echo back
        return timeout

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
        :class:`~n58aio.errors.CommandTimeout` when no final result comes in time, and
        :class:`~n58aio.errors.PortClosedError` when the port is gone.
        """
        line = encode_command(command)
        if timeout is None:
            timeout = self.default_timeout(command, data)
        async with self._lock:
            self._check_open()
            if self._needs_resync:
                await self._resync()
            if self.parser.in_raw_mode and command_name(command) not in _CLOSE_COMMANDS:
                await self._wait_raw_idle(timeout)
            pending = _Pending(
                command,
                data,
                reply_prefix=reply_prefix,
                reply_match=reply_match,
                max_reply_lines=max_reply_lines,
            )
            return await self._exchange(pending, line, timeout)

    def on_urc(self, prefix: str, callback: UrcCallback) -> Callable[[], None]:
        """Call ``callback(line)`` for each report starting with ``prefix``; return an
        unsubscribe function. Callbacks run off the reader (they may send commands)."""
        return self.urcs.add_callback(prefix, callback)

    def subscribe(self, prefix: str = "", maxlen: int = 1024) -> UrcSubscription:
        """Async iterator over reports starting with ``prefix`` (empty: every report)."""
        subscription = self.urcs.subscribe(prefix, maxlen)
        if self._closed is not None:
            subscription._fail(self._closed)
        return subscription

    def open_stream(
        self, source: Source, decoder: Decoder[T], *, max_buffer: int = 256 * 1024
    ) -> PayloadStream[T]:
        """Register the stream that receives the next payload of ``source``."""
        self._check_open()
        current = self._streams.get(source)
        if current is not None and not current.finished:
            raise RuntimeError(f"a {source} payload stream is already open")
        stream: PayloadStream[T] = PayloadStream(
            source, decoder, max_buffer=max_buffer, on_drain=self._on_drain
        )
        self._streams[source] = stream
        return stream

    def close_stream(self, stream: PayloadStream[Any]) -> None:
        """Unregister ``stream`` and drop what it holds; later payload of its family is dropped."""
        if self._streams.get(stream.source) is stream:
            del self._streams[stream.source]
        stream.detach()

    async def resync(self) -> None:
        """Bring the channel back in step with the modem now (normally done lazily)."""
        async with self._lock:
            self._check_open()
            self._needs_resync = True
            await self._resync()

    # ------------------------------------------------------------------ exchange
    async def _exchange(self, pending: _Pending, line: bytes, timeout: float) -> Reply:
        self.parser.begin_command(
            pending.command,
            reply_prefix=pending.reply_prefix,
            reply_match=pending.reply_match,
            max_reply_lines=pending.max_reply_lines,
            data=pending.data,
        )
        self._pending = pending
        self.log.debug("command.sent", command=_redact(pending.command))
        pending.sent_at = asyncio.get_running_loop().time()
        self._write(line)
        try:
            async with asyncio.timeout(timeout):
                await pending.done.wait()
        except TimeoutError:
            pending.abandoned = True
            self._needs_resync = True
            self.log.warning("command.timeout", command=_redact(pending.command), timeout=timeout)
            raise CommandTimeout(pending.command, timeout) from None
        except asyncio.CancelledError:
            if pending.outcome is None:
                pending.abandoned = True
                self._needs_resync = True
                self.log.info("command.cancelled", command=_redact(pending.command))
            else:
                self._pending = None
            raise
        self._pending = None
        outcome = pending.outcome
        assert outcome is not None
        if isinstance(outcome, N58Error):
            raise outcome
        return outcome

    async def _resync(self) -> None:
        zombie = self._pending
        if zombie is not None and zombie.outcome is None:
            grace = _RESYNC_GRACE
            if zombie.data is not None and not zombie.data_done:
                # The module may be in the data phase of that command, reading whatever comes
                # as its data (a probe, the next command): wait until it must have given up.
                grace = max(grace, self.module_data_timeout + self.timeout_slack)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await zombie.done.wait()
            self._pending = None
            self._check_open()
            if zombie.outcome is not None:
                # The late final result arrived: the modem finished the command, in step again.
                self._needs_resync = False
                self.log.info("resync.late_reply", command=_redact(zombie.command))
                return
        self._pending = None
        self.parser.abandon_command()
        self._check_open()
        if self.parser.in_raw_mode and self.parser.raw_source not in self._streams:
            # Raw bytes nobody reads, whose end report never came (the module restarted, or
            # the link was already gone when the close command went): stop waiting for it.
            self.log.info("resync.raw_abandoned", source=self.parser.raw_source)
            self.parser.abandon_raw()
            self._raw_idle.set()
        for attempt in range(1, _RESYNC_ATTEMPTS + 1):
            probe = _Pending(_RESYNC_PROBE, None, probe=True, reply_prefix="+CMEE")
            try:
                await self._exchange(probe, encode_command(_RESYNC_PROBE), _RESYNC_GRACE)
            except CommandTimeout:
                self._pending = None
                self.parser.abandon_command()
                self.log.warning("resync.retry", attempt=attempt)
                continue
            except CommandError:
                pass  # the modem answered after the probe's own line: in step
            self._needs_resync = False
            self.log.info("resync.done", attempt=attempt)
            return
        self._needs_resync = True
        raise CommandTimeout(_RESYNC_PROBE, _RESYNC_GRACE * _RESYNC_ATTEMPTS)

    async def _wait_raw_idle(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._raw_idle.wait()
        except TimeoutError:
            raise CommandTimeout("(waiting for the mode 0 response to end)", timeout) from None

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or not isinstance(transport, asyncio.WriteTransport):
            raise PortClosedError(f"{self.name}: port is not open")
        self.bytes_written += len(data)
        transport.write(data)

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed

    # ------------------------------------------------------------------ the reader
    def _process(self) -> None:
        # Consecutive length-prefixed chunks go to their stream joined, so the per-delivery
        # work (decoder, stream, waking the consumer) is paid once per read, not per chunk.
        parser = self.parser
        batch: list[bytes] = []
        source: Source = "HTTP"
        while True:
            if self._paused:
                if batch:
                    self._deliver(source, b"".join(batch), raw=False)
                return
            event = parser.next_event()
            if type(event) is Payload and (not batch or event.source == source):
                batch.append(event.data)
                source = event.source
                continue
            if batch:
                self._deliver(source, b"".join(batch) if len(batch) > 1 else batch[0], raw=False)
                batch = []
            if isinstance(event, NeedData):
                return
            if type(event) is Payload:  # the other family's chunk starts a new batch
                batch.append(event.data)
                source = event.source
                continue
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Payload):
            self._deliver(event.source, event.data, raw=False)
        elif isinstance(event, RawData):
            self._deliver(event.source, event.data, raw=True)
        elif isinstance(event, InfoLine):
            if self._pending is not None:
                self._pending.lines.append(event.text)
        elif isinstance(event, FinalResult):
            self._final(event)
        elif isinstance(event, Urc):
            self._report(event.line)
        elif isinstance(event, Prompt):
            self._prompt()
        elif isinstance(event, Echo):
            if self._pending is not None:
                self._pending.echo = True
        elif isinstance(event, RawStart):
            self._raw_idle.clear()
            self.log.debug("payload.raw_start", source=event.source)
        elif isinstance(event, RawEnd):
            self._raw_end(event)
        elif isinstance(event, WireError):
            self._wire_error(event)

    def _deliver(self, source: Source, data: bytes, *, raw: bool) -> None:
        stream = self._streams.get(source)
        if stream is None:
            self.dropped_payload_bytes += len(data)
            self.log.debug("payload.dropped", source=source, size=len(data))
            return
        leftover = stream.deliver(data)
        if stream.finished:
            del self._streams[source]
            if raw:
                self.parser.end_raw(leftover or 0)
                self._raw_idle.set()
        elif stream.paused:
            self._pause()

    def _final(self, event: FinalResult) -> None:
        pending = self._pending
        if pending is None or not event.solicited or pending.outcome is not None:
            self.log.info("reply.stray", final=event.text)
            return
        if pending.probe and not any(line.startswith("+CMEE") for line in pending.lines):
            # A late final of the abandoned command (perhaps after late reply lines), not the
            # probe's, which follows the probe's own +CMEE: line: keep waiting for that one.
            self.log.info("reply.stray", final=event.text)
            pending.lines.clear()
            self.parser.begin_command(pending.command, reply_prefix=pending.reply_prefix)
            return
        if event.ok:
            self.log.debug("command.ok", command=_redact(pending.command), lines=len(pending.lines))
            pending.settle(Reply(pending.command, list(pending.lines), event.text))
        else:
            self.log.info("command.error", command=_redact(pending.command), final=event.text)
            pending.settle(CommandError(pending.command, event.text, event.code))

    def _prompt(self) -> None:
        pending = self._pending
        if pending is None or pending.data is None or pending.prompted:
            self.log.warning("prompt.unexpected")
            return
        pending.prompted = True
        if pending.abandoned or pending.outcome is not None:
            # Nobody waits for this command any more: never send data the module may take
            # for commands. It gives up waiting for the data by itself.
            self.log.warning("prompt.abandoned", command=_redact(pending.command))
            return
        elapsed = asyncio.get_running_loop().time() - pending.sent_at
        line_time = 10 * len(pending.data) / self.baudrate if self.baudrate else 0.0
        if elapsed + line_time > self.module_data_timeout / 2:
            self.log.warning(
                "prompt.late", command=_redact(pending.command), seconds=round(elapsed, 3)
            )
            return
        pending.data_done = True
        self._write(pending.data)

    def _report(self, line: str) -> None:
        self.log.debug("urc", line=line)
        for source, prefixes in _LINK_CLOSED.items():
            if line.startswith(prefixes):
                stream = self._streams.pop(source, None)
                if stream is not None:
                    stream.link_closed(line)
        if line == _RESTARTED:
            self._restarted()
        elif not _REPORT_SHAPE.match(line):
            # Text amid a response: a chunk header was lost and its data read as lines.
            self._fail_streams(ProtocolError, f"unexpected text amid the payload: {line[:40]!r}")
        self.urcs.dispatch(line)

    def _restarted(self) -> None:
        """The module restarted: its links are gone, and so may be the command in flight."""
        for source in list(self._streams):
            stream = self._streams.pop(source)
            stream.fail(LinkClosedError(f"{source} link lost: the module restarted"))
        pending = self._pending
        if pending is None or pending.outcome is not None or pending.probe:
            return
        pending.data_done = True  # a restarted module waits for no data

        # The module may have restarted before the command reached it (then it answers it) or
        # after (then the command is lost): allow a short grace for the answer.
        def lost() -> None:
            if pending.outcome is None and self._pending is pending:
                self._needs_resync = True
                self.log.warning("command.lost", command=_redact(pending.command))
                pending.settle(CommandError(pending.command, _RESTARTED))

        asyncio.get_running_loop().call_later(_RESYNC_GRACE, lost)

    def _fail_streams(self, error: type[N58Error], reason: str, *, started: bool = True) -> None:
        for source, stream in list(self._streams.items()):
            if stream.bytes_received or not started:
                del self._streams[source]
                stream.fail(error(f"{source} payload: {reason}"))

    def _raw_end(self, event: RawEnd) -> None:
        self._raw_idle.set()
        if event.line == _RESTARTED:
            stream = self._streams.get(event.source)
            if stream is not None and event.retract:
                stream.bytes_received -= event.retract
            self._report(event.line)  # handled as the same report between lines is
            return
        stream = self._streams.pop(event.source, None)
        if stream is not None:
            stream.link_closed(event.line, event.retract)
            if stream.failed:
                # The response was not complete: the bytes that follow may be more of it,
                # not modem output. Check the channel is in step before the next command.
                self._needs_resync = True
        pending = self._pending
        if pending is not None and command_name(pending.command) in _CLOSE_COMMANDS:
            # The close command's OK was consumed as raw bytes; its report ends the exchange.
            self._needs_resync = True
            pending.settle(Reply(pending.command, [], "OK"))
        self.urcs.dispatch(event.line)

    def _wire_error(self, event: WireError) -> None:
        self.wire_errors += 1
        self.log.warning("wire.error", reason=event.reason, data=event.data[:64])
        pending = self._pending
        if pending is not None and pending.prompted and pending.outcome is None:
            # Damage after the prompt: what follows may be the echo of the caller's data, not
            # the module's output. Fail the command and its response; resynchronise.
            self._needs_resync = True
            pending.settle(ProtocolError(f"{pending.command}: {event.reason}"))
            self._fail_streams(ProtocolError, f"framing lost: {event.reason}", started=False)
            return
        self._fail_streams(ProtocolError, f"framing lost: {event.reason}")

    # ------------------------------------------------------------------ backpressure
    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self.read_pauses += 1
            transport = self._transport
            if isinstance(transport, asyncio.ReadTransport):
                transport.pause_reading()

    def _on_drain(self) -> None:
        if self._paused and not any(stream.paused for stream in self._streams.values()):
            self._paused = False
            transport = self._transport
            if isinstance(transport, asyncio.ReadTransport) and not transport.is_closing():
                transport.resume_reading()
            asyncio.get_running_loop().call_soon(self._process)

    # ------------------------------------------------------------------ teardown
    def _fail_all(self, exc: PortClosedError) -> None:
        if self._closed is not None:
            return
        self._closed = exc
        self.log.warning("port.closed", reason=str(exc))
        if self._pending is not None:
            self._pending.settle(exc)
        for stream in list(self._streams.values()):
            stream.fail(exc)
        self._streams.clear()
        self._raw_idle.set()
        self.urcs.close(exc)


def _redact(command: str) -> str:
    """Hide credentials that a URL parameter may carry (``user:password@host``)."""
    return redact(command)
