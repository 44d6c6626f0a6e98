"""AT+CMUX on the emulated module: 27.010 basic mode on the pty, frame by frame."""

from __future__ import annotations

import asyncio

from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, PBREADY, TIMEOUT, EmuFactory, Origin, Port

from n58aio.cmux import (
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
)
from n58aio.emulator import Emulator

INFO_OK = b"OK\r\n"  # after information text, the final comes with no empty line (captured)
TEST_REPLY = b"\r\n+CMUX: (0,1),(0),(1-6),(1-2048),(1-255),(0-100),(2-255),(1-255),(1-7)\r\n"


class Frames:
    """Frames over a raw port: the host's side, written by hand."""

    def __init__(self, port: Port, n1: int = 31) -> None:
        self.port = port
        self.n1 = n1
        self.decoder = FrameDecoder(n1)
        self.errors: list[FrameError] = []

    def send(self, frame: Frame) -> None:
        self.port.send(encode_frame(frame))

    def send_data(self, dlci: int, data: bytes) -> None:
        self.port.send(encode_uih(dlci, data, self.n1))

    def control(self, code: ControlType, value: bytes = b"") -> None:
        self.send(Frame(0, FrameType.UIH, encode_control(ControlMessage(code, True, value))))

    async def next(self, timeout: float = TIMEOUT) -> Frame:
        async with asyncio.timeout(timeout):
            while True:
                event = self.decoder.next_event()
                if isinstance(event, Frame):
                    return event
                if isinstance(event, FrameError):
                    self.errors.append(event)
                    continue
                assert isinstance(event, NeedData)
                chunk = await self.port.reader.read(4096)
                assert chunk, "port closed"
                self.decoder.receive_data(chunk)

    async def expect(self, frame: Frame) -> None:
        got = await self.next()
        assert got == frame

    async def read_dlc(self, dlci: int, size: int, other: dict[int, bytes] | None = None) -> bytes:
        """``size`` bytes of ``dlci``'s data; other DLCs' data collected into ``other``."""
        data = b""
        while len(data) < size:
            frame = await self.next()
            if frame.dlci == dlci and frame.type == FrameType.UIH:
                data += frame.info
            elif other is not None and frame.type == FrameType.UIH:
                other[frame.dlci] = other.get(frame.dlci, b"") + frame.info
        return data

    async def open(self, dlci: int) -> None:
        self.send(Frame(dlci, FrameType.SABM, pf=True))
        await self.expect(Frame(dlci, FrameType.UA, pf=True))
        if dlci:
            msc = await self.next()  # the module's modem status for the new DLC
            assert msc.dlci == 0
            assert decode_controls(msc.info) == [
                ControlMessage(ControlType.MSC, True, modem_status(ModemStatus(dlci)))
            ]


def dlcs(emu: Emulator) -> tuple[int, ...] | None:
    """The open DLCs (a call, so that mypy does not narrow it between two reads)."""
    return emu.mux_dlcs


async def start_mux(port: Port, command: bytes = b"AT+CMUX=0", n1: int = 31) -> Frames:
    await port.cmd(command, OK)
    frames = Frames(port, n1)
    await frames.open(0)
    return frames


async def test_cmux_command_forms(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    await port.cmd(b"AT+CMUX=?", TEST_REPLY + INFO_OK)
    for bad in (
        b"AT+CMUX?",
        b"AT+CMUX=2",
        b"AT+CMUX=1",  # enhanced mode: not supported by the module
        b"AT+CMUX=0,1",
        b"AT+CMUX=0,0,7",
        b"AT+CMUX=0,0,,2049",
        b"AT+CMUX=0,0,,512,30,3,30",  # T2 must be above T1
        b"AT+CMUX=0,0,,512,10,6",
        b"AT+CMUX",
    ):
        await port.cmd(bad, ERROR)
    assert dlcs(emu) is None
    await port.cmd(b"AT+CMUX=0,0,5,512,254,5,255", OK)
    assert dlcs(emu) == ()


async def test_sabm_ua_on_dlci_0_to_2_and_at_on_two_dlcs(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    frames = Frames(port)
    # before the control channel: refused
    await port.cmd(b"AT+CMUX=0", OK)
    frames.send(Frame(1, FrameType.SABM, pf=True))
    await frames.expect(Frame(1, FrameType.DM, pf=True))
    await frames.open(0)
    await frames.open(1)
    await frames.open(2)
    frames.send(Frame(4, FrameType.SABM, pf=True))
    await frames.expect(Frame(4, FrameType.DM, pf=True))
    frames.send_data(5, b"AT\r")
    await frames.expect(Frame(5, FrameType.DM))
    assert dlcs(emu) == (1, 2)
    # AT on both at once; ATE0 on DLC 2 leaves DLC 1's echo on; AT+CMUX again is refused
    frames.send_data(1, b"AT+CGMM\r")
    frames.send_data(2, b"ATE0\r")
    got: dict[int, bytes] = {}
    first = await frames.read_dlc(1, len(b"AT+CGMM\r\r\n+CGMM: N58\r\nOK\r\n"), got)
    assert first == b"AT+CGMM\r\r\n+CGMM: N58\r\nOK\r\n"
    second = got.get(2, b"")
    second += await frames.read_dlc(2, len(b"ATE0\r" + OK) - len(second))
    assert second == b"ATE0\r" + OK
    frames.send_data(2, b"AT+CGMM\r")
    reply = b"\r\n+CGMM: N58\r\n" + INFO_OK
    assert await frames.read_dlc(2, len(reply)) == reply
    frames.send_data(1, b"AT+CMUX=0\r")
    assert await frames.read_dlc(1, len(b"AT+CMUX=0\r" + ERROR)) == b"AT+CMUX=0\r" + ERROR
    # a long reply is cut at N1
    frames.send_data(1, b"AT+CMUX=?\r")
    reply = b"AT+CMUX=?\r" + TEST_REPLY + INFO_OK
    sizes = []
    data = b""
    while len(data) < len(reply):
        frame = await frames.next()
        sizes.append(len(frame.info))
        data += frame.info
    assert data == reply
    assert max(sizes) == 31
    # DISC closes one DLC
    frames.send(Frame(2, FrameType.DISC, pf=True))
    await frames.expect(Frame(2, FrameType.UA, pf=True))
    assert dlcs(emu) == (1,)


async def test_control_channel_commands_and_cld(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    frames = await start_mux(port)
    await frames.open(1)
    frames.control(ControlType.TEST, b"ping")
    reply = await frames.next()
    assert (reply.dlci, decode_controls(reply.info)) == (
        0,
        [ControlMessage(ControlType.TEST, False, b"ping")],
    )
    frames.control(ControlType.PSC)  # power saving: not supported
    reply = await frames.next()
    assert decode_controls(reply.info) == [ControlMessage(ControlType.NSC, False, b"\x43")]
    value = modem_status(ModemStatus(1, fc=True))
    frames.control(ControlType.MSC, value)
    reply = await frames.next()
    assert decode_controls(reply.info) == [ControlMessage(ControlType.MSC, False, value)]
    frames.control(ControlType.CLD)
    reply = await frames.next()
    assert decode_controls(reply.info) == [ControlMessage(ControlType.CLD, False)]
    await asyncio.sleep(0.05)
    assert dlcs(emu) is None
    await port.cmd(b"AT", OK)
    await port.cmd(b"AT+CGMM", b"\r\n+CGMM: N58\r\n" + INFO_OK)


async def test_msc_flow_control_pauses_only_its_dlc(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    frames = await start_mux(port)
    await frames.open(1)
    await frames.open(2)
    frames.control(ControlType.MSC, modem_status(ModemStatus(2, fc=True)))
    await frames.next()  # the MSC response
    frames.send_data(2, b"AT\r")
    frames.send_data(1, b"AT\r")
    assert await frames.read_dlc(1, len(b"AT\r" + OK)) == b"AT\r" + OK
    frames.send_data(1, b"AT+CGMM\r")
    other: dict[int, bytes] = {}
    await frames.read_dlc(1, len(b"AT+CGMM\r\r\n+CGMM: N58\r\n" + INFO_OK), other)
    assert other == {}  # DLC 2 holds its reply while paused
    frames.control(ControlType.MSC, modem_status(ModemStatus(2, fc=False)))
    await frames.next()
    assert await frames.read_dlc(2, len(b"AT\r" + OK)) == b"AT\r" + OK


async def test_frame_faults_and_restart_back_to_at_mode(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    frames = await start_mux(port)
    await frames.open(1)
    emu.faults.damage_frames(1, dlci=1)
    frames.send_data(1, b"AT\r")
    frames.send_data(1, b"AT+CGMM\r")
    # the first frame (the echo "AT\r") is dropped for its bad FCS, the reply comes through
    expected = OK + b"AT+CGMM\r\r\n+CGMM: N58\r\n" + INFO_OK
    assert await frames.read_dlc(1, len(expected)) == expected
    assert [e.reason for e in frames.errors] == ["bad FCS"]
    emu.faults.lose_flags(1, dlci=1)
    frames.send_data(1, b"AT\r")
    frames.send_data(1, b"ATI\r")
    frames.send_data(1, b"AT+CGMM\r")
    tail = b"AT+CGMM\r\r\n+CGMM: N58\r\n" + INFO_OK
    data = b""
    while not data.endswith(tail):
        data += await frames.read_dlc(1, 1)
    assert data.startswith(b"ATI\r")  # "AT\r" and "OK" lost with the flag between them
    emu.faults.restart()
    await port.expect(PBREADY)
    assert dlcs(emu) is None
    await port.cmd(b"AT", OK)


async def test_sabm_on_three_dlcs_and_reports_to_the_starting_dlc(
    make_emu: EmuFactory, origin: Origin
) -> None:
    emu, port = await make_emu(pdp_up=True)
    frames = await start_mux(port, b"AT+CMUX=0,0,5,512", n1=512)
    for dlci in (1, 2, 3):
        await frames.open(dlci)
    assert dlcs(emu) == (1, 2, 3)
    for line in (
        b"AT+HTTPPARA=url,www.neoway.com.cn/en/index.aspx",
        b"AT+HTTPPARA=port,%d" % origin.port,
        b"AT+HTTPSETUP",
        b"AT+HTTPACTION=0",
    ):
        frames.send_data(3, line + b"\r")
        reply = b""
        while not reply.endswith(OK):
            reply += await frames.read_dlc(3, 1)
    other: dict[int, bytes] = {}
    report = b""
    while b"+HTTPCLOSED" not in report:
        report += await frames.read_dlc(3, 1, other)
    assert b"+HTTPRECV:" in report
    assert other == {}
