"""The asyncio shell around the sans-IO parser: one command at a time, reports, payload streams.

:class:`ModemChannel` is an ``asyncio.Protocol``. ``data_received`` feeds the
:class:`~n58aio.wire.AtParser` and routes each event: reply lines and final results to the
command in flight, reports to the :class:`~n58aio.channel.urcs.UrcRouter`, payload to the
registered :class:`~n58aio.channel.streams.PayloadStream`. It never blocks: when a stream's
consumer falls behind, reading from the port pauses until it catches up.

The channel keeps the module's echo on and trusts a reply only after the echo of its own
command, so a late or duplicate ``OK`` never answers the next command. It starts out of step,
and goes out of step again after a timeout, a cancellation, malformed input, or the end of a
receive-mode-0 response (after which the server may still be sending): then, before anything
else, it sends a probe carrying a fresh random token (``AT+N58SYNC=<token>``, a command the
module does not know) and, where the line itself is not trusted, discards every byte until the
probe's echo. Neither a late reply, a caller's POST body, nor a server's bytes can contain the
token, so nothing they send can stand in for the module's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Callable, Iterable
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
from ..redact import loggable_line, redact
from ..wire import (
    DEFAULT_MAX_LINE,
    REPORT_SHAPE,
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
    Stray,
    Urc,
    WireError,
    command_name,
    encode_command,
)
from .streams import Decoder, PayloadStream
from .urcs import UrcCallback, UrcRouter, UrcSubscription

__all__ = ["ModemChannel", "Reply"]

T = TypeVar("T")

SYNC_PROBE_PREFIX = "AT+N58SYNC="
"""The probe's command: an extended command no module knows, followed by a random token."""
RESYNC_GRACE = 2.0
"""The default of :attr:`ModemChannel.resync_grace`, in seconds."""
_RESYNC_ATTEMPTS = 3
_ECHO_ON_SETTLE = 0.2  # pause after a blind ATE1, before the probe
_LINK_CLOSED: dict[Source, tuple[str, str]] = {
    family.source: family.closed_reports() for family in (HTTP, HTTPS)
}
_CLOSE_COMMAND: dict[Source, str] = {family.source: family.close() for family in (HTTP, HTTPS)}
_CLOSE_COMMANDS = frozenset(command_name(line) for line in _CLOSE_COMMAND.values())
_RESTARTED = "+PBREADY"
_ECHO_SETTING = re.compile(r"^ATE([01]?)$")
_PROFILE_RESET = frozenset({"ATZ", "ATZ0", "AT&F", "AT&F0"})


def sync_probe() -> str:
    """A fresh probe line: ``AT+N58SYNC=`` and 16 random hexadecimal digits."""
    return SYNC_PROBE_PREFIX + secrets.token_hex(8).upper()


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
    final_seen: bool = False  # the module's own final result came (after the echo)
    abandoned: bool = False  # the caller gave up (timeout or cancellation)
    data_done: bool = False  # the data was written, or the module cannot be waiting for it
    sent_at: float = 0.0
    deadline: float = 0.0  # loop time at which the caller's wait times out
    waiter: asyncio.Task[Any] | None = None  # the task waiting for the outcome, while it waits
    expired: bool = False  # the deadline passed while waiting: the waiter was cancelled
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
        echoes_data: bool = True,
        module_buffer: int = 65536,
    ) -> None:
        self.name = name
        self.log = log or structlog.get_logger("n58aio").bind(modem=name)
        self.baudrate = baudrate
        self.timeout_slack = timeout_slack
        self.module_buffer = module_buffer
        """Bytes of server data the module may hold queued for the line (the close of an
        abandoned response, and a probe behind it, may wait until they are written)."""
        self.parser = AtParser(max_line=max_line or DEFAULT_MAX_LINE, merge_payload=True)
        self.parser.echoes_data = echoes_data
        self.urcs = UrcRouter(self.log)
        self.resyncs = 0
        """Times the channel proved itself back in step with a probe."""
        self.stray_replies = 0
        """Final results that answered nothing (late, duplicate, or before a command's echo)."""
        self.wire_errors = 0
        self.dropped_payload_bytes = 0
        self.bytes_written = 0
        self.bytes_read = 0
        self.read_pauses = 0
        """Times reading stopped because a stream's consumer fell behind (backpressure)."""
        self._transport: asyncio.BaseTransport | None = None
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._awaited: _Pending | None = None  # the exchange whose caller is waiting now
        self._watchdog: asyncio.TimerHandle | None = None
        self._needs_resync = True  # nothing is proven until the first probe answers
        self._distrusted = False
        self._before_probe: list[str] = []
        self._echo_wanted = True
        self._data_risk_until = 0.0
        self._resync_task: asyncio.Task[None] | None = None
        self._streams: dict[Source, PayloadStream[Any]] = {}
        self._paused = False
        self._closed: PortClosedError | None = None
        self._connected = asyncio.Event()
        self._raw_idle = asyncio.Event()
        self._raw_idle.set()
        self.resync_grace = RESYNC_GRACE
        """Seconds a probe waits for its echo before the next goes out, and the grace for the
        answer to a command sent just before an unannounced restart (2 s: a busy module
        answers its queued probes in order; tests and simulations shorten it)."""
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
        """True until a probe has proven the channel in step: at first, and again after a
        timeout, a cancellation, malformed input or the end of a receive-mode-0 response."""
        return self._needs_resync

    @property
    def distrusted(self) -> bool:
        """True while the line itself is not trusted: every byte is discarded until a probe's
        echo (after malformed input, or the end of receive-mode-0 raw bytes)."""
        return self._distrusted

    def line_time(self, size: int) -> float:
        """Seconds that ``size`` bytes take on the line (0 when the rate is unknown)."""
        return size * 10 / self.baudrate if self.baudrate else 0.0

    def set_line_rate(self, baudrate: int) -> None:
        """Set the host port to ``baudrate`` now (after the module was switched with
        ``AT+IPR``); line-time timeouts follow. The channel is then out of step until a probe
        proves it (:meth:`resync`, or lazily before the next command)."""
        transport = self._transport
        port = transport.get_extra_info("serial") if transport is not None else None
        if port is None:
            raise PortClosedError(f"{self.name}: the port has no line rate to set")
        port.baudrate = baudrate
        self.baudrate = baudrate
        self._needs_resync = True
        self.log.info("line.rate", baudrate=baudrate)

    def write_blind(self, command: str) -> None:
        """Write ``command`` at once, without waiting for an answer: the last resort for a
        module that answers nothing (the manual's reset, ``AT+CFUN=1,1``). The channel is out
        of step afterwards: nothing is trusted until a probe comes back."""
        self._check_open()
        self.log.warning("command.blind", command=_redact(command))
        self._write(encode_command(command))
        self._needs_resync = True

    def distrust(self, reason: str, *, before_probe: Iterable[str] = ()) -> None:
        """Stop trusting the line now: the command in flight fails with
        :class:`~n58aio.errors.ProtocolError`, so does every unfinished payload stream, and
        every byte is discarded until a probe (sent at once, in the background) comes back.
        ``before_probe`` are command lines written blind just before the probe (the close of a
        link whose server may still be sending): the module handles them first."""
        self._lose_trust(reason, before_probe, expected=False)

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
    async def _exchange(
        self, pending: _Pending, line: bytes, timeout: float, *, sync: bool = False
    ) -> Reply:
        if not sync:  # a probe in the hunt was declared with begin_sync
            self.parser.begin_command(
                pending.command,
                reply_prefix=pending.reply_prefix,
                reply_match=pending.reply_match,
                max_reply_lines=pending.max_reply_lines,
                data=pending.data,
            )
        self._pending = pending
        self.log.debug("command.sent", command=_redact(pending.command))
        loop = asyncio.get_running_loop()
        pending.sent_at = loop.time()
        self._write(line)
        # One timer for many commands (see _arm_watchdog) instead of an asyncio.timeout each:
        # it expires the wait exactly as asyncio.timeout would, cancelling the waiting task.
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        pending.deadline = loop.time() + timeout
        pending.waiter = task
        self._awaited = pending
        self._arm_watchdog(loop, pending.deadline)
        try:
            await pending.done.wait()
        except asyncio.CancelledError:
            if pending.expired and task.uncancel() <= cancelling:
                pending.abandoned = True
                self._needs_resync = True
                self._note_data_risk(pending)
                if not pending.probe:
                    self.log.warning(
                        "command.timeout", command=_redact(pending.command), timeout=timeout
                    )
                    self._schedule_resync()
                raise CommandTimeout(pending.command, timeout) from None
            if pending.outcome is None:
                pending.abandoned = True
                self._needs_resync = True
                self._note_data_risk(pending)
                self.log.info("command.cancelled", command=_redact(pending.command))
                self._schedule_resync()
            else:
                self._pending = None
            raise
        finally:
            pending.waiter = None
            if self._awaited is pending:
                self._awaited = None
        self._pending = None
        self._note_data_risk(pending)
        outcome = pending.outcome
        assert outcome is not None
        if isinstance(outcome, N58Error):
            raise outcome
        return outcome

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Have the watchdog run by ``deadline``: the armed timer is kept when it runs no later
        (it re-arms itself for the exchange awaited then), so a stream of commands with the
        same timeout sets one timer per timeout period instead of one per command."""
        watchdog = self._watchdog
        if watchdog is not None:
            if watchdog.when() <= deadline:
                return
            watchdog.cancel()
        self._watchdog = loop.call_at(deadline, self._watchdog_fired, loop, deadline)

    def _watchdog_fired(self, loop: asyncio.AbstractEventLoop, armed_for: float) -> None:
        self._watchdog = None
        pending = self._awaited
        if pending is None or pending.waiter is None or pending.outcome is not None:
            return
        if armed_for < pending.deadline:  # armed for an earlier exchange: wait for this one
            self._arm_watchdog(loop, pending.deadline)
            return
        pending.expired = True
        pending.waiter.cancel()

    async def _resync(self) -> None:
        """Prove the channel in step again (under the lock): see the module docstring."""
        loop = asyncio.get_running_loop()
        zombie = self._pending
        remaining = 0.0
        if zombie is not None and zombie.outcome is None:
            # The command that timed out: the module may still be working on it.
            remaining = zombie.sent_at + manual_timeout(zombie.command) + self.timeout_slack
            remaining -= loop.time()
            if zombie.final_seen:
                remaining = 0.0
        wait = self._data_risk_until - loop.time()
        if wait > 0:
            # A command with data failed before its data was written: the module may be in its
            # data phase, reading whatever comes (a probe) as data. Wait until it must have given
            # up, with the zombie's late final result still recognised meanwhile.
            self.log.info("resync.data_phase_wait", seconds=round(wait, 3))
            if zombie is not None and not self._distrusted:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await zombie.done.wait()
            if zombie is None or not zombie.final_seen:
                await asyncio.sleep(max(0.0, self._data_risk_until - loop.time()))
            self._check_open()
        self._data_risk_until = 0.0
        if (
            zombie is not None
            and zombie.final_seen
            and not self._distrusted
            and self.parser.echo is True
        ):
            # The late final result came after the command's own echo: in step again.
            self._pending = None
            self._needs_resync = False
            self.log.info("resync.late_reply", command=_redact(zombie.command))
            return
        self._pending = None
        self.parser.abandon_command()
        parser = self.parser
        raw_source = parser.raw_source
        if raw_source is not None and _CLOSE_COMMAND[raw_source] not in self._before_probe:
            # Raw bytes of a response nobody reads: their server may go on sending until the
            # link is closed, and must not be read as the module's output afterwards.
            self._before_probe.append(_CLOSE_COMMAND[raw_source])
        hunt = (
            self._distrusted
            or parser.distrusted  # e.g. the zombie's data echo was still coming
            or parser.echo is not True
            or parser.in_payload
            or parser.in_raw_mode
        )
        grace = self.resync_grace
        # The module may first have to finish the command that timed out (up to its manual
        # timeout): probes go out every `grace` seconds until then (a busy module answers them
        # in order, a probe whose echo was damaged is followed by the next), at least 3.
        started = loop.time()
        deadline = started + max(grace * _RESYNC_ATTEMPTS, remaining + grace)
        attempt = 0
        while True:
            attempt += 1
            self._check_open()
            probe = sync_probe()
            line = encode_command(probe)
            timeout = grace + self.line_time(len(line) * 2)
            if self._before_probe:
                # a close waits until the module has written out the server data it holds
                timeout += min(10.0, grace) + self.line_time(self.module_buffer)
            if hunt:
                if not parser.distrusted:
                    parser.distrust()
                self._raw_idle.set()
                for command in self._before_probe:
                    self.log.info("resync.before_probe", command=_redact(command))
                    self._write(encode_command(command))
                if parser.echo is not True or attempt % _RESYNC_ATTEMPTS == 0:
                    # Echo may be off (or unknown): the probe's echo is the proof, so turn it on.
                    self._write(encode_command("ATE1"))
                    await asyncio.sleep(_ECHO_ON_SETTLE + self.line_time(16))
                    self._check_open()
                parser.begin_sync(probe)
            pending = _Pending(probe, None, probe=True)
            try:
                await self._exchange(pending, line, timeout, sync=hunt)
            except CommandTimeout:
                self._pending = None
                parser.abandon_command()
                # at least 3 probes, even when each waits longer than `grace` (behind a close)
                if attempt >= _RESYNC_ATTEMPTS and loop.time() >= deadline:
                    break
                self.log.warning("resync.retry", attempt=attempt, hunt=hunt)
                hunt = True
                continue
            except ProtocolError:
                # the line was distrusted while the probe waited: hunt for the next one
                self._pending = None
                if attempt >= _RESYNC_ATTEMPTS and loop.time() >= deadline:
                    break
                self.log.info("resync.retry", attempt=attempt, hunt=hunt, distrusted=True)
                hunt = True
                continue
            except CommandError:
                pass  # the expected answer to an unknown command, after the probe's own echo
            self._distrusted = False
            self._before_probe.clear()
            self._needs_resync = False
            self.resyncs += 1
            if hunt:
                parser.echo = True  # the probe's echo came back
            self.log.info("resync.done", attempt=attempt, discarded=parser.discarded)
            if not self._echo_wanted and parser.echo:
                await self._exchange(_Pending("ATE0", None), encode_command("ATE0"), grace)
            return
        self._needs_resync = True
        raise CommandTimeout(SYNC_PROBE_PREFIX + "<token>", round(loop.time() - started, 1))

    def _note_data_risk(self, pending: _Pending) -> None:
        """After a data command ended without its data written and without the module's own
        answer, the module may be waiting in its data phase: remember until when."""
        if pending.data is not None and not pending.data_done and not pending.final_seen:
            until = asyncio.get_running_loop().time() + self.module_data_timeout
            self._data_risk_until = max(self._data_risk_until, until + self.timeout_slack)

    def _schedule_resync(self) -> None:
        """Resynchronise in the background now, rather than at the next command: while the
        line is distrusted, every report is lost until then."""
        if self._closed is not None:
            return
        task = self._resync_task
        if task is None or task.done():
            self._resync_task = asyncio.get_running_loop().create_task(
                self._background_resync(), name=f"n58aio-resync-{self.name}"
            )

    async def _background_resync(self) -> None:
        try:
            async with self._lock:
                if self._needs_resync and self._closed is None:
                    await self._resync()
        except PortClosedError:
            pass
        except N58Error as exc:
            self.log.warning("resync.failed", error=str(exc))

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
            if parser.distrusted and not self._distrusted:
                self._lose_trust("the line is not trusted", (), expected=False)

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
        elif isinstance(event, Stray):
            self._stray(event.line)

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
                # The response is complete, but the server may still be sending: close its
                # link and prove the channel in step before anything else is trusted.
                self.parser.end_raw(leftover or 0)
                self._lose_trust(
                    f"end of a receive-mode-0 {source} response",
                    (_CLOSE_COMMAND[source],),
                    expected=True,
                )
        elif stream.paused:
            self._pause()

    def _final(self, event: FinalResult) -> None:
        pending = self._pending
        if pending is None or not event.solicited or pending.final_seen:
            self.stray_replies += 1
            self.log.info("reply.stray", final=loggable_line(event.text))
            return
        pending.final_seen = True
        if pending.outcome is not None:
            return  # a late final of a command its caller gave up: the module finished it
        if event.ok:
            self.log.debug("command.ok", command=_redact(pending.command), lines=len(pending.lines))
            self._track_settings(pending.command)
            pending.settle(Reply(pending.command, list(pending.lines), event.text))
        else:
            self.log.info(
                "command.error", command=_redact(pending.command), final=loggable_line(event.text)
            )
            pending.settle(CommandError(pending.command, event.text, event.code))

    def _track_settings(self, command: str) -> None:
        """Follow the module settings the parser relies on, as set by successful commands."""
        text = command.upper().replace(" ", "")
        echo = _ECHO_SETTING.match(text)
        if echo is not None:
            self.parser.echo = self._echo_wanted = echo.group(1) == "1"
        elif text in _PROFILE_RESET:
            self.parser.echo = None  # back to a stored profile: echo unknown
            self._needs_resync = True

    def _stray(self, line: str) -> None:
        self.log.debug("line.stray", line=loggable_line(line))
        if any(stream.bytes_received for stream in self._streams.values()):
            # Text amid a response: a chunk header was lost and its data read as lines.
            reason = f"unexpected text amid the payload: {loggable_line(line)}"
            self._lose_trust(reason, (), expected=False)

    def _prompt(self) -> None:
        pending = self._pending
        if pending is None or pending.data is None or pending.prompted:
            self.log.warning("prompt.unexpected")
            self.parser.withhold_data()
            return
        pending.prompted = True
        if pending.abandoned or pending.outcome is not None:
            # Nobody waits for this command any more: never send data the module may take
            # for commands. It gives up waiting for the data by itself.
            self.log.warning("prompt.abandoned", command=_redact(pending.command))
            self.parser.withhold_data()
            return
        elapsed = asyncio.get_running_loop().time() - pending.sent_at
        line_time = 10 * len(pending.data) / self.baudrate if self.baudrate else 0.0
        if elapsed + line_time > self.module_data_timeout / 2:
            self.log.warning(
                "prompt.late", command=_redact(pending.command), seconds=round(elapsed, 3)
            )
            self.parser.withhold_data()
            return
        pending.data_done = True
        self._write(pending.data)

    def _report(self, line: str) -> None:
        self.log.debug("urc", line=loggable_line(line))
        for source, prefixes in _LINK_CLOSED.items():
            if line.startswith(prefixes):
                stream = self._streams.pop(source, None)
                if stream is not None:
                    stream.link_closed(line)
        if line == _RESTARTED:
            self._restarted()
        elif not REPORT_SHAPE.match(line):
            self._stray(line)
            return
        self.urcs.dispatch(line)

    def _restarted(self) -> None:
        """The module restarted: its links are gone, and so may be the command in flight."""
        if not self._echo_wanted:
            self._needs_resync = True  # echo is back on: turn it off again after a probe
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

        asyncio.get_running_loop().call_later(self.resync_grace, lost)

    def _fail_streams(self, error: type[N58Error], reason: str, *, started: bool = True) -> None:
        for source, stream in list(self._streams.items()):
            if stream.bytes_received or not started:
                del self._streams[source]
                stream.fail(error(f"{source} payload: {reason}"))

    def _raw_end(self, event: RawEnd) -> None:
        # The report that ends raw bytes may be the server's own text, and the server may go
        # on sending: whatever it is, the link is closed and the channel probed before the line
        # is trusted again (the parser already discards what follows). Nor is it passed on as a
        # report: a server must not make the gateway believe the module restarted (a real
        # restart shows in the module's state; the supervision checks it).
        stream = self._streams.pop(event.source, None)
        if stream is not None:
            stream.link_closed(event.line, event.retract)
        pending = self._pending
        if pending is not None and command_name(pending.command) in _CLOSE_COMMANDS:
            # The close command's OK was consumed as raw bytes; its report ends the exchange.
            pending.final_seen = True
            pending.settle(Reply(pending.command, [], "OK"))
        self._lose_trust(
            f"receive-mode-0 {event.source} bytes ended by {loggable_line(event.line)}",
            (_CLOSE_COMMAND[event.source],),
            expected=True,
        )

    def _wire_error(self, event: WireError) -> None:
        self.wire_errors += 1
        self.log.warning("wire.error", reason=event.reason, size=len(event.data))
        # What follows may be a server's bytes or the echo of a caller's data: nothing of it
        # is read as the module's output until a probe comes back.
        self._lose_trust(f"framing lost: {event.reason}", (), expected=False)

    def _lose_trust(self, reason: str, before_probe: Iterable[str], *, expected: bool) -> None:
        """See :meth:`distrust`; ``expected`` for the normal end of receive-mode-0 bytes."""
        if self._closed is not None:
            return
        first = not self._distrusted
        self._distrusted = True
        self._needs_resync = True
        for command in before_probe:
            if command not in self._before_probe:
                self._before_probe.append(command)
        if not self.parser.distrusted:
            self.parser.distrust()
        self._raw_idle.set()
        pending = self._pending
        if pending is not None and pending.outcome is None:
            # (a probe in flight is lost too: the resynchronisation starts a hunt at once)
            pending.settle(ProtocolError(f"{_redact(pending.command)}: {reason}"))
        self._fail_streams(ProtocolError, reason, started=False)
        if first:
            if expected:
                self.log.debug("line.distrusted", reason=reason)
            else:
                self.log.warning("line.distrusted", reason=reason)
        self._schedule_resync()

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
    def _fail_all(self, exc: PortClosedError, *, orderly: bool = False) -> None:
        if self._closed is not None:
            return
        self._closed = exc
        if orderly:
            self.log.info("port.closed", reason=str(exc))
        else:
            self.log.warning("port.closed", reason=str(exc))
        task = self._resync_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
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
