"""The module's side of 27.010 basic mode (``AT+CMUX``) over its one serial port.

After ``AT+CMUX=0`` the port carries frames only. DLCI 0 is the control channel: the host
opens it with SABM (UA back), then sends multiplexer commands in UIH frames: MSC (its FC bit
pauses the output of one DLC), Test (echoed), FCon / FCoff (all DLCs), PN (accepted as
proposed), CLD (close down: the response, then AT mode again); any other command gets NSC.
DLCIs 1 to :data:`MAX_AT_DLCI` each open an AT interpreter (an :class:`~.atport.AtPort`, run by
the module); SABM on any other DLCI, or before DLCI 0 is open, gets DM, and so does a frame on
a DLC that is not open.

Output: each DLC's :class:`~.output.OutputChannel` writes through :meth:`Multiplexer._send_dlc`,
which cuts the bytes into UIH frames of at most N1 bytes and queues them on the serial port's
own output channel (paced, byte faults applied) once there is room, the DLCs taking turns blob
by blob (a reply, a report: at most about 1.5 KB); a DLC paused by MSC holds only its own output
(and through its full queue, only its own relay). Frame faults
(:class:`~.faults.FrameFaults`: a damaged FCS, a lost flag) apply as frames are queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ..cmux import (
    ControlMessage,
    ControlType,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    ModemStatus,
    NeedData,
    decode_controls,
    encode_control,
    encode_frame,
    encode_uih,
    modem_status,
    parse_modem_status,
)
from .atport import AtPort, LineSettings
from .faults import FrameFaults
from .output import OutputChannel, OutputFaults, Pacer

__all__ = ["MAX_AT_DLCI", "Multiplexer", "MuxParams"]

MAX_AT_DLCI = 3  # the manual: typically three virtual ports (one for PPP, two for AT)


@dataclass(frozen=True)
class MuxParams:
    """The ``AT+CMUX`` parameters the emulator uses (the others are checked, then kept here)."""

    n1: int = 31
    port_speed: int = 5
    t1: int = 10
    n2: int = 3
    t2: int = 30


class Multiplexer:
    """Frames in (:meth:`feed`), frames out; opens and closes the DLC ports."""

    def __init__(
        self,
        params: MuxParams,
        physical: OutputChannel,
        frame_faults: FrameFaults,
        settings: Callable[[], LineSettings],
        start_session: Callable[[AtPort], None],
        close_down: Callable[[], None],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.params = params
        self._physical = physical
        self._faults = frame_faults
        self._settings = settings
        self._start_session = start_session
        self._close_down = close_down
        self._log = log.bind(mux=True)
        self._decoder = FrameDecoder(params.n1)
        self._space = max(256, 2 * (params.n1 + 7))
        self.control_open = False
        self.ports: dict[int, AtPort] = {}
        self._flow: dict[int, asyncio.Event] = {}
        self._all_flow = asyncio.Event()
        self._all_flow.set()
        self._sink: AtPort | None = None
        self._strip_open = False
        # one blob at a time onto the line, in turn: asyncio.Lock wakes its waiters in order,
        # so a stream's DLC cannot starve another one racing for room on the line
        self._line = asyncio.Lock()
        self.frame_errors = 0
        self.closed = False

    # ------------------------------------------------------------------ ports

    def report_port(self) -> AtPort:
        """Where reports of no DLC go: the lowest open DLC, else nowhere (a sink)."""
        for dlci in sorted(self.ports):
            return self.ports[dlci]
        if self._sink is None:
            self._sink = AtPort("sink", self._channel(self._discard), self._settings())
        return self._sink

    def _channel(self, write: Callable[[bytes], object]) -> OutputChannel:
        async def writer(data: bytes) -> None:
            result = write(data)
            if asyncio.iscoroutine(result):
                await result

        channel = OutputChannel(writer, Pacer(None), OutputFaults(), self._log)
        channel.pacer = self._physical.pacer  # AT+IPR on a DLC sets the line's rate
        channel.start()
        return channel

    @staticmethod
    def _discard(data: bytes) -> None:
        return None

    def _open_dlc(self, dlci: int) -> None:
        flow = asyncio.Event()
        flow.set()
        self._flow[dlci] = flow

        async def send(data: bytes) -> None:
            await self._send_dlc(dlci, data)

        port = AtPort(f"dlc{dlci}", self._channel(send), self._settings())
        self.ports[dlci] = port
        self._log.info("dlc opened", dlci=dlci)
        self._start_session(port)

    def _close_dlc(self, dlci: int) -> None:
        port = self.ports.pop(dlci, None)
        flow = self._flow.pop(dlci, None)
        if flow is not None:
            flow.set()  # a writer waiting on it sees the DLC gone
        if port is not None:
            _close_port(port)
            self._log.info("dlc closed", dlci=dlci)

    def close(self) -> None:
        """Leave multiplexer mode: every DLC port closed, its session cancelled."""
        if self.closed:
            return
        self.closed = True
        for dlci in list(self.ports):
            self._close_dlc(dlci)
        if self._sink is not None:
            _close_port(self._sink)
        self._all_flow.set()
        self._decoder.clear()

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes) -> None:
        """Bytes read from the serial port."""
        if self.closed:
            return
        decoder = self._decoder
        decoder.receive_data(data)
        while not isinstance(event := decoder.next_event(), NeedData):
            if isinstance(event, FrameError):
                self.frame_errors += 1
                self._log.debug("frame dropped", reason=event.reason, size=event.dropped)
                continue
            self._on_frame(event)
            if self.closed:
                return

    def _on_frame(self, frame: Frame) -> None:
        kind, dlci = frame.type, frame.dlci
        if dlci == 0:
            self._on_control_frame(frame)
        elif kind == FrameType.SABM:
            if not self.control_open or dlci > MAX_AT_DLCI:
                self._send(Frame(dlci, FrameType.DM, pf=frame.pf))
                return
            self._send(Frame(dlci, FrameType.UA, pf=frame.pf))
            if dlci not in self.ports:
                self._open_dlc(dlci)
                self._command(ControlType.MSC, modem_status(ModemStatus(dlci)))
        elif kind == FrameType.DISC:
            if dlci in self.ports:
                self._send(Frame(dlci, FrameType.UA, pf=frame.pf))
                self._close_dlc(dlci)
            else:
                self._send(Frame(dlci, FrameType.DM, pf=frame.pf))
        elif kind in (FrameType.UIH, FrameType.UI):
            port = self.ports.get(dlci)
            if port is None:
                self._send(Frame(dlci, FrameType.DM, pf=frame.pf))
            else:
                port.feed(frame.info)

    def _on_control_frame(self, frame: Frame) -> None:
        if frame.type == FrameType.SABM:
            self.control_open = True
            self._send(Frame(0, FrameType.UA, pf=frame.pf))
            self._log.info("control channel open", n1=self.params.n1)
        elif frame.type == FrameType.DISC:
            self._send(Frame(0, FrameType.UA, pf=frame.pf))
            self._physical.put_call(self._close_down)  # as CLD: back to AT mode
        elif frame.type in (FrameType.UIH, FrameType.UI):
            if self.control_open:
                self._on_control(frame.info)
            else:
                self._send(Frame(0, FrameType.DM, pf=frame.pf))

    def _on_control(self, info: bytes) -> None:
        try:
            messages = decode_controls(info)
        except ValueError as exc:
            self._log.info("control message malformed", error=str(exc))
            return
        for message in messages:
            if not message.command:
                continue  # the host's answer to one of ours
            code = message.code
            if code == ControlType.MSC:
                try:
                    status = parse_modem_status(message.value)
                except ValueError:
                    self._nsc(message)
                    continue
                flow = self._flow.get(status.dlci)
                if flow is not None:
                    if status.fc:
                        flow.clear()
                    else:
                        flow.set()
                self._log.debug("msc", dlci=status.dlci, fc=status.fc)
                self._respond(message)
            elif code in (ControlType.TEST, ControlType.PN):
                self._respond(message)  # Test: echoed; PN: the proposal accepted as it is
            elif code == ControlType.FCON:
                self._all_flow.set()
                self._respond(message)
            elif code == ControlType.FCOFF:
                self._all_flow.clear()
                self._respond(message)
            elif code == ControlType.CLD:
                self._respond(message)
                self._physical.put_call(self._close_down)  # once the response is out
                return
            else:
                self._nsc(message)

    # ------------------------------------------------------------------ output

    def _respond(self, message: ControlMessage) -> None:
        answer = ControlMessage(message.code, False, message.value)
        self._send(Frame(0, FrameType.UIH, encode_control(answer), cr=False))

    def _command(self, code: ControlType, value: bytes) -> None:
        message = ControlMessage(code, True, value)
        self._send(Frame(0, FrameType.UIH, encode_control(message), cr=False))

    def _nsc(self, message: ControlMessage) -> None:
        self._log.info("control command not supported", code=message.code)
        nsc = ControlMessage(ControlType.NSC, False, bytes((message.type_octet,)))
        self._send(Frame(0, FrameType.UIH, encode_control(nsc), cr=False))

    def _send(self, frame: Frame) -> None:
        """A frame of the control logic (UA, DM, DLCI 0 messages): queued at once."""
        self._physical.put(self._faulted(frame.dlci, encode_frame(frame)))

    async def _send_dlc(self, dlci: int, data: bytes) -> None:
        """A DLC's blob (a reply, a report) as UIH frames, queued together once the DLC may
        send and the line has room; the DLCs take turns blob by blob."""
        n1 = self.params.n1
        while True:
            flow = self._flow.get(dlci)
            if flow is None or self.closed:
                return  # the DLC was closed: its output is lost
            if flow.is_set() and self._all_flow.is_set():
                break
            await (flow.wait() if not flow.is_set() else self._all_flow.wait())
        async with self._line:
            # room for 50 ms of line: the line does not idle while this task waits its turn
            # (a command's reply waits about that long behind a stream)
            rate = self._physical.pacer.rate
            room = max(self._space, int(rate * 0.05) if rate else 0)
            await self._physical.wait_space(room)
            if self.closed or dlci not in self._flow:
                return
            frames = [
                self._faulted(dlci, encode_uih(dlci, data[pos : pos + n1], n1, cr=False))
                for pos in range(0, len(data), n1)
            ]
            self._physical.put(b"".join(frames))

    def _faulted(self, dlci: int, frame: bytes) -> bytes:
        if self._strip_open:
            self._strip_open = False
            frame = frame[1:]  # its opening flag went with the previous frame's closing one
        if self._faults.take_damage(dlci):
            frame = frame[:-2] + bytes((frame[-2] ^ 0xFF,)) + frame[-1:]
            self._log.info("frame fault: damaged FCS", dlci=dlci)
        if self._faults.take_lost_flag(dlci):
            frame = frame[:-1]
            self._strip_open = True
            self._log.info("frame fault: lost flag", dlci=dlci)
        return frame


def _close_port(port: AtPort) -> None:
    port.closed = True
    if port.session is not None:
        port.session.cancel()
        port.session = None
    port.reader.clear()
    port.out.clear()
    port.out.stop()
    port.busy = False
    port.idle.set()
    port.input.set()
