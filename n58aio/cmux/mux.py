"""The host side of 27.010 basic mode: one serial transport, a byte pipe per DLC.

:class:`Multiplexer` is the serial transport's :class:`asyncio.Protocol`. It starts in AT mode,
passing every byte through to an ordinary protocol (a :class:`~n58aio.channel.ModemChannel`)
that sends ``AT+CMUX``; :meth:`Multiplexer.enter` then opens the control channel (DLCI 0) and
:meth:`Multiplexer.open_dlc` gives each DLC a :class:`DlcPipe`: a transport with ``write``,
``pause_reading``, ``resume_reading``, ``is_closing``, ``close`` and ``get_extra_info`` (the
serial port's extras), on which the same channel class runs unchanged.

Flow control is per DLC: ``pause_reading`` on a pipe sends MSC with the FC bit for its DLC only
(never pausing the port), and holds the frames still in flight until ``resume_reading`` (at
most :data:`~.pipe.MAX_HELD` bytes: a module that ignored the MSC loses the rest, reported as
a gap); an MSC with FC from the module holds that DLC's writes.

Faults. A frame dropped by the codec (bad FCS, lost flag) is a gap in some DLC's bytes: the
pipe's ``on_gap`` callback is told (the channel distrusts the line and probes), the DLC named
by a frame with a bad FCS, every DLC when the frame boundaries themselves were lost. AT text
where frames are expected (``+PBREADY`` after a restart) means the module left multiplexer mode:
until the multiplexer is back, the lowest DLC's channel talks AT on the raw port (it sees the
restart report as it would without the multiplexer, and its recovery can reset the module or
set the line rate), the other DLCs' writes are dropped, and :meth:`Multiplexer.restore` sets the
multiplexer up again (automatically, retried with a growing delay, and as the recovery path's
hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ..errors import MultiplexerError
from ..logs import get_logger
from .codec import (
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    NeedData,
    encode_frame,
    encode_uih,
)
from .control import (
    ControlMessage,
    ControlType,
    ModemStatus,
    decode_controls,
    encode_control,
    modem_status,
    parse_modem_status,
)
from .pipe import DlcPipe

__all__ = [
    "DEFAULT_N1",
    "Multiplexer",
    "MuxState",
    "cmux_command",
    "looks_like_at_text",
]

# 7 bytes of framing per 512: 98.6 % of the line for data; a frame takes 45 ms at 115200 baud
# (about what a command on another DLC waits behind a stream)
DEFAULT_N1 = 512
_AT_TEXT_MAX = 4096


def cmux_command(n1: int) -> str:
    """The ``AT+CMUX`` line for basic mode, UIH frames, 115200 port speed and ``n1``."""
    return f"AT+CMUX=0,0,5,{n1}"


def looks_like_at_text(data: bytes) -> bool:
    """True for AT output (printable text and line ends), which never looks like a frame: a
    UIH frame's control octet (0xEF / 0xFF) is not printable."""
    body = data.lstrip(b"\xf9")
    return b"\r\n" in body and all(32 <= byte < 127 or byte in (10, 13) for byte in body)


class MuxState(enum.Enum):
    """Where the multiplexer is."""

    AT = "at"  # the port is in AT mode: bytes pass through
    STARTING = "starting"  # AT+CMUX answered, DLCs being opened
    OPEN = "open"
    VANISHED = "vanished"  # AT text where frames were expected: the module left the mux
    RESTORING = "restoring"  # AT+CMUX sent again
    CLOSED = "closed"


class Multiplexer(asyncio.Protocol):
    """The serial transport's protocol; see the module docstring."""

    def __init__(
        self,
        passthrough: asyncio.Protocol,
        *,
        n1: int = DEFAULT_N1,
        reply_timeout: float = 1.0,
        retries: int = 3,
        auto_restore: bool = True,
        log: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        self.n1 = n1
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.auto_restore = auto_restore
        self.log = (log or get_logger()).bind(mux=True)
        self.state = MuxState.AT
        self.pipes: dict[int, DlcPipe] = {}
        self.frame_errors = 0
        self.restores = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.dropped_writes = 0
        self._passthrough: asyncio.Protocol | None = passthrough
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder(n1)
        self._dlc_waiters: dict[int, asyncio.Future[bool]] = {}
        self._control_waiters: dict[int, asyncio.Future[ControlMessage]] = {}
        self._at_text = bytearray()
        self._at_event = asyncio.Event()
        self._restore_lock = asyncio.Lock()
        self._restore_task: asyncio.Task[None] | None = None
        self._liveness: asyncio.Task[None] | None = None
        self._stale: asyncio.TimerHandle | None = None
        self._reads = 0

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the serial transport; the AT protocol is connected to it directly."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._passthrough is not None:
            self._passthrough.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Bytes from the port: passed through, decoded, or read as AT text."""
        self.bytes_read += len(data)
        state = self.state
        if state is MuxState.AT:
            if self._passthrough is not None:
                self._passthrough.data_received(data)
        elif state in (MuxState.STARTING, MuxState.OPEN):
            self._reads += 1
            self._decoder.receive_data(data)
            self._drain()
            if self.state in (MuxState.STARTING, MuxState.OPEN):
                self._arm_stale_check()
        elif state is MuxState.VANISHED:
            self._keep_text(data)
            self._forward_text(data)
        elif state is MuxState.RESTORING:
            self._keep_text(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """The port is gone: every DLC's protocol (or the AT one) is told."""
        self.state = MuxState.CLOSED
        self._cancel_timers()
        waiters: list[asyncio.Future[Any]] = [
            *self._dlc_waiters.values(),
            *self._control_waiters.values(),
        ]
        for future in waiters:
            if not future.done():
                future.set_exception(MultiplexerError("port closed"))
        for pipe in list(self.pipes.values()):
            pipe._lost(exc)
        if self._passthrough is not None:
            self._passthrough.connection_lost(exc)
            self._passthrough = None

    def pause_writing(self) -> None:
        """The serial transport's buffer is full (nothing to do: DLC writes are small)."""

    def resume_writing(self) -> None:
        """See :meth:`pause_writing`."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The serial transport's extra information."""
        if self._transport is None:
            return default
        return self._transport.get_extra_info(name, default)

    # ------------------------------------------------------------------ lifecycle
    async def enter(self, send_command: Callable[[str], Awaitable[object]]) -> None:
        """Send ``AT+CMUX`` with ``send_command`` (the AT channel's ``command``; its error, such
        as :class:`~n58aio.errors.CommandError` for a refusal, propagates, in AT mode still),
        then open the control channel. Raises :class:`~n58aio.errors.MultiplexerError` when the
        module took the command but does not answer SABM (the port is then unusable)."""
        if self.state is not MuxState.AT:
            raise MultiplexerError(f"multiplexer already {self.state.value}")
        await send_command(cmux_command(self.n1))
        self._decoder.clear()
        self.state = MuxState.STARTING
        await self._establish(0)
        self.state = MuxState.OPEN
        self.log.info("mux.open", n1=self.n1)

    async def open_dlc(
        self,
        dlci: int,
        protocol: asyncio.Protocol,
        on_gap: Callable[[str], object] | None = None,
    ) -> DlcPipe:
        """Open ``dlci`` (SABM, UA) and connect ``protocol`` to its pipe. ``on_gap(reason)``
        is called when bytes of the DLC may have been lost."""
        if self.state is not MuxState.OPEN:
            raise MultiplexerError(f"multiplexer {self.state.value}, cannot open DLC {dlci}")
        if dlci in self.pipes or not 1 <= dlci <= 61:
            raise MultiplexerError(f"DLC {dlci} already open or out of range")
        if protocol is self._passthrough:
            self._passthrough = None  # from now on it lives on its DLC
        pipe = DlcPipe(self, dlci, protocol, on_gap)
        self.pipes[dlci] = pipe  # frames right after the UA are held for it
        try:
            await self._establish(dlci)
        except BaseException:
            self.pipes.pop(dlci, None)
            raise
        pipe._connect()
        self.log.info("mux.dlc_open", dlci=dlci)
        return pipe

    async def close(self, timeout: float | None = None) -> None:
        """Close down (CLD): the module goes back to AT mode; every DLC's protocol is told
        the connection is lost and the serial port is closed."""
        if self.state is MuxState.CLOSED:
            return
        if self.state is MuxState.OPEN:
            try:
                await self._control_exchange(ControlType.CLD, b"", timeout)
            except (MultiplexerError, TimeoutError) as exc:
                self.log.warning("mux.close_unanswered", error=str(exc))
        self.state = MuxState.CLOSED
        self._cancel_timers()
        for task in (self._restore_task, self._liveness):
            if task is not asyncio.current_task():
                await _cancelled(task)
        for pipe in list(self.pipes.values()):
            pipe._lost(None)
        if self._transport is not None:
            self._transport.close()
        self.log.info("mux.closed")

    async def test(self, timeout: float | None = None) -> bool:
        """A Test command round trip on DLCI 0: True when the multiplexer answers."""
        if self.state is not MuxState.OPEN:
            return False
        try:
            await self._control_exchange(ControlType.TEST, b"n58aio", timeout)
        except (MultiplexerError, TimeoutError):
            return False
        return True

    async def restore(self) -> None:
        """Set the multiplexer up again after the module left it (a restart): ``AT+CMUX``
        on the raw port, SABM on DLCI 0 and on every DLC that was open; each DLC is told of
        the gap. A no-op when the multiplexer answers a Test command. Raises
        :class:`~n58aio.errors.MultiplexerError` when the module does not take it."""
        async with self._restore_lock:
            if self.state is MuxState.CLOSED:
                raise MultiplexerError("multiplexer closed")
            if self.state is MuxState.OPEN and await self.test():
                return
            self.state = MuxState.RESTORING
            self._cancel_timers()
            try:
                for attempt in range(self.retries + 1):
                    self._at_text.clear()
                    self._write(cmux_command(self.n1).encode() + b"\r")
                    if await self._wait_at_ok():
                        break
                    self.log.info("mux.restore_retry", attempt=attempt + 1)
                else:
                    raise MultiplexerError("the module does not take AT+CMUX again")
                self._decoder.clear()
                self.state = MuxState.STARTING
                await self._establish(0)
                for dlci in sorted(self.pipes):
                    await self._establish(dlci)
            except MultiplexerError:
                if self.state is not MuxState.CLOSED:
                    self.state = MuxState.VANISHED
                raise
            self.state = MuxState.OPEN
            self.restores += 1
            self.log.warning("mux.restored", dlcs=sorted(self.pipes))
            for pipe in list(self.pipes.values()):
                if not pipe.is_reading():
                    self._send_msc(pipe.dlci, fc=True)
                pipe._gap("multiplexer restored after the module left it")

    # ------------------------------------------------------------------ frames in
    def _drain(self) -> None:
        """Decode what arrived; consecutive data frames of one DLC reach its protocol in one
        ``data_received`` call (a read holds dozens of frames: one parser pass, not dozens)."""
        decoder = self._decoder
        batch: list[bytes] = []
        batch_dlci = 0
        while self.state in (MuxState.STARTING, MuxState.OPEN):
            event = decoder.next_event()
            if isinstance(event, NeedData):
                break
            if (
                isinstance(event, Frame)
                and event.type == FrameType.UIH
                and event.dlci != 0
                and event.dlci in self.pipes
            ):
                if batch and event.dlci != batch_dlci:
                    self.pipes[batch_dlci]._deliver(b"".join(batch))
                    batch = []
                batch_dlci = event.dlci
                batch.append(event.info)
                continue
            if batch:
                self.pipes[batch_dlci]._deliver(b"".join(batch))
                batch = []
            if isinstance(event, FrameError):
                self._frame_error(event)
            else:
                self._frame(event)
        if batch and (pipe := self.pipes.get(batch_dlci)) is not None:
            pipe._deliver(b"".join(batch))

    def _frame_error(self, error: FrameError) -> None:
        self.frame_errors += 1
        if looks_like_at_text(error.sample) and self.pipes:
            self._vanished(error.sample.lstrip(b"\xf9") + self._decoder.take_unframed())
            return
        self.log.info("mux.frame_lost", reason=error.reason, size=error.dropped)
        named = error.dlci if error.reason == "bad FCS" else None
        pipe = self.pipes.get(named) if named is not None else None
        for target in [pipe] if pipe is not None else list(self.pipes.values()):
            target._gap(f"multiplexer frame lost ({error.reason})")
        self._check_alive()

    def _check_alive(self) -> None:
        """After damaged input: is the multiplexer still there? (A module that restarted at
        another line rate sends noise, not text.) One Test command at a time."""
        if self.state is MuxState.OPEN and (self._liveness is None or self._liveness.done()):
            self._liveness = asyncio.get_running_loop().create_task(
                self._liveness_check(), name="n58-mux-liveness"
            )

    async def _liveness_check(self) -> None:
        if not await self.test() and self.state is MuxState.OPEN:
            self._vanished(b"")  # no answer on the control channel: the module left the mux

    def _frame(self, frame: Frame) -> None:
        kind, dlci = frame.type, frame.dlci
        if kind in (FrameType.UA, FrameType.DM):
            waiter = self._dlc_waiters.get(dlci)
            if waiter is not None and not waiter.done():
                waiter.set_result(kind == FrameType.UA)
        elif kind in (FrameType.UIH, FrameType.UI):
            if dlci == 0:
                self._control(frame.info)
            elif (pipe := self.pipes.get(dlci)) is not None:
                pipe._deliver(frame.info)
        elif kind == FrameType.DISC:
            self._send_frame(Frame(dlci, FrameType.UA, pf=frame.pf))
            if (pipe := self.pipes.pop(dlci, None)) is not None:
                pipe._lost(MultiplexerError(f"the module closed DLC {dlci}"))
        elif kind == FrameType.SABM:
            self._send_frame(Frame(dlci, FrameType.DM, pf=frame.pf))  # we open DLCs, not it

    def _control(self, info: bytes) -> None:
        try:
            messages = decode_controls(info)
        except ValueError as exc:
            self.log.info("mux.control_malformed", error=str(exc))
            return
        for message in messages:
            if not message.command:
                waiter = self._control_waiters.get(message.code)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                if message.code == ControlType.NSC:
                    self.log.warning("mux.not_supported", command=message.value.hex())
                continue
            code = message.code
            if code == ControlType.MSC:
                try:
                    status = parse_modem_status(message.value)
                except ValueError:
                    self._reply_nsc(message)
                    continue
                if (pipe := self.pipes.get(status.dlci)) is not None:
                    pipe._set_tx_paused(status.fc)
                self._respond(message)
            elif code == ControlType.TEST:
                self._respond(message)
            elif code in (ControlType.FCON, ControlType.FCOFF):
                # acknowledged, not honoured: the N58 stops a DLC with MSC, the host's writes
                # are command lines
                self.log.info("mux.flow_all", on=code == ControlType.FCON)
                self._respond(message)
            else:
                self._reply_nsc(message)

    # ------------------------------------------------------------------ AT text
    def _vanished(self, text: bytes) -> None:
        self.state = MuxState.VANISHED
        self._cancel_timers()
        self.log.warning("mux.vanished", text=text[:64].decode("ascii", "replace"))
        self._keep_text(text)
        self._forward_text(text)
        for pipe in list(self.pipes.values()):
            pipe._gap("the module left multiplexer mode")
        if self.auto_restore and (self._restore_task is None or self._restore_task.done()):
            self._restore_task = asyncio.get_running_loop().create_task(
                self._auto_restore(), name="n58-mux-restore"
            )

    async def _auto_restore(self) -> None:
        """Restore until it works (or the multiplexer is closed): after a restart at another
        line rate, AT+CMUX fails until the recovery path (on the lowest DLC's channel, talking
        AT on the raw port meanwhile) has switched the rate back."""
        delay = min(0.2, self.reply_timeout)  # the rest of the boot report first
        while self.state is MuxState.VANISHED:
            await asyncio.sleep(delay)
            try:
                await self.restore()
            except MultiplexerError as exc:
                self.log.warning("mux.restore_failed", error=str(exc), retry_in=min(8.0, delay * 4))
                delay = min(8.0, delay * 4)

    def _forward_text(self, text: bytes) -> None:
        """Reports of the module in AT mode reach the lowest DLC's protocol."""
        if not text:
            return
        for dlci in sorted(self.pipes):
            self.pipes[dlci]._deliver(text)
            return

    def _keep_text(self, data: bytes) -> None:
        self._at_text += data
        if len(self._at_text) > _AT_TEXT_MAX:
            del self._at_text[:-_AT_TEXT_MAX]
        self._at_event.set()

    async def _wait_at_ok(self) -> bool:
        try:
            async with asyncio.timeout(self.reply_timeout):
                while True:
                    if b"\r\nOK\r\n" in self._at_text:
                        return True
                    if b"ERROR" in self._at_text:
                        return False
                    self._at_event.clear()
                    await self._at_event.wait()
        except TimeoutError:
            return False

    def _arm_stale_check(self) -> None:
        """A partial frame with nothing after it: the module may have left the mux mid-frame
        (a restart cuts a frame short); look at it once the line has been quiet a while."""
        if self._stale is not None:
            self._stale.cancel()
            self._stale = None
        if self._decoder.buffered > 1:
            reads = self._reads
            self._stale = asyncio.get_running_loop().call_later(
                self._quiet_time(), self._stale_check, reads
            )

    def _quiet_time(self) -> float:
        port = self.get_extra_info("serial")
        rate = getattr(port, "baudrate", None) or 115200
        return max(0.3, 4 * (self.n1 + 7) * 10 / rate)

    def _stale_check(self, reads: int) -> None:
        self._stale = None
        if reads != self._reads or self.state is not MuxState.OPEN:
            return
        rest = self._decoder.take_unframed()
        for start in range(len(rest)):  # AT text after a cut frame
            if rest[start] == 0x0D and looks_like_at_text(rest[start:]):
                self._vanished(rest[start:])
                return
        self.log.info("mux.partial_frame_dropped", size=len(rest))
        for pipe in list(self.pipes.values()):
            pipe._gap("multiplexer partial frame dropped")
        self._check_alive()

    def _cancel_timers(self) -> None:
        if self._stale is not None:
            self._stale.cancel()
            self._stale = None

    # ------------------------------------------------------------------ frames out
    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.bytes_written += len(data)

    def _send_frame(self, frame: Frame) -> None:
        self._write(encode_frame(frame))

    def _send_data(self, dlci: int, data: bytes) -> None:
        if self.state is MuxState.VANISHED and dlci == min(self.pipes, default=None):
            # the module is in AT mode: the lowest DLC's channel talks to it on the raw port
            # (its probes find the module, its recovery resets it or sets the line rate)
            self._write(data)
            return
        if self.state is not MuxState.OPEN:
            self.dropped_writes += len(data)
            self.log.debug("mux.write_dropped", dlci=dlci, size=len(data), state=self.state.value)
            return
        self._write(encode_uih(dlci, data, self.n1))

    def _send_msc(self, dlci: int, *, fc: bool) -> None:
        if self.state is MuxState.OPEN:
            message = ControlMessage(ControlType.MSC, True, modem_status(ModemStatus(dlci, fc=fc)))
            self._send_frame(Frame(0, FrameType.UIH, encode_control(message)))

    def _respond(self, message: ControlMessage) -> None:
        answer = ControlMessage(message.code, False, message.value)
        self._send_frame(Frame(0, FrameType.UIH, encode_control(answer)))

    def _reply_nsc(self, message: ControlMessage) -> None:
        nsc = ControlMessage(ControlType.NSC, False, bytes((message.type_octet,)))
        self._send_frame(Frame(0, FrameType.UIH, encode_control(nsc)))

    async def _control_exchange(
        self, code: ControlType, value: bytes, timeout: float | None
    ) -> ControlMessage:
        wait = self.reply_timeout if timeout is None else timeout
        pending = self._control_waiters.get(code)
        if pending is not None:  # the same command already in flight: share its answer
            async with asyncio.timeout(wait):
                return await asyncio.shield(pending)
        future: asyncio.Future[ControlMessage] = asyncio.get_running_loop().create_future()
        self._control_waiters[code] = future
        try:
            message = ControlMessage(code, True, value)
            self._send_frame(Frame(0, FrameType.UIH, encode_control(message)))
            async with asyncio.timeout(wait):
                return await future
        finally:
            self._control_waiters.pop(code, None)

    async def _establish(self, dlci: int) -> None:
        """SABM until UA (T1 = ``reply_timeout``, N2 = ``retries``); DM is a refusal."""
        loop = asyncio.get_running_loop()
        for _ in range(self.retries + 1):
            future: asyncio.Future[bool] = loop.create_future()
            self._dlc_waiters[dlci] = future
            self._send_frame(Frame(dlci, FrameType.SABM, pf=True))
            try:
                async with asyncio.timeout(self.reply_timeout):
                    accepted = await future
            except TimeoutError:
                continue
            finally:
                self._dlc_waiters.pop(dlci, None)
            if not accepted:
                raise MultiplexerError(f"the module refused DLC {dlci} (DM)")
            return
        raise MultiplexerError(f"no UA for DLC {dlci} after {self.retries + 1} SABM")

    def _close_dlc(self, pipe: DlcPipe) -> None:
        if self.pipes.get(pipe.dlci) is pipe:
            del self.pipes[pipe.dlci]
            if self.state is MuxState.OPEN:
                self._send_frame(Frame(pipe.dlci, FrameType.DISC, pf=True))
                self.log.info("mux.dlc_closed", dlci=pipe.dlci)


async def _cancelled(task: asyncio.Task[Any] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
