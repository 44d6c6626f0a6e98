"""The Multiplexer and its DLC pipes against a scripted module side (no pty): flow control,
held bytes, gaps, AT text where frames belong."""

from __future__ import annotations

import asyncio
from typing import Any

from n58aio.cmux import (
    ControlMessage,
    ControlType,
    Frame,
    FrameDecoder,
    FrameType,
    ModemStatus,
    Multiplexer,
    MuxState,
    NeedData,
    decode_controls,
    encode_control,
    encode_frame,
    encode_uih,
    modem_status,
)
from n58aio.cmux.pipe import MAX_HELD


class Wire(asyncio.Transport):
    """The serial transport: records what the host writes, decoded as frames."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = FrameDecoder()
        self.frames: list[Frame] = []
        self.raw = bytearray()

    def write(self, data: Any) -> None:
        self.raw += data
        self.decoder.receive_data(bytes(data))
        while not isinstance(event := self.decoder.next_event(), NeedData):
            if isinstance(event, Frame):
                self.frames.append(event)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.gaps: list[str] = []
        self.lost: list[Exception | None] = []

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


async def opened() -> tuple[Multiplexer, Wire, Recorder, Any]:
    at = Recorder()
    mux = Multiplexer(at, reply_timeout=0.5, auto_restore=False)
    wire = Wire()
    mux.connection_made(wire)

    async def answer_sabm() -> None:
        answered = 0
        while answered < 2:
            await asyncio.sleep(0)
            for frame in wire.frames[answered:]:
                if frame.type == FrameType.SABM:
                    mux.data_received(encode_frame(Frame(frame.dlci, FrameType.UA, pf=True)))
                answered += 1

    async def command(text: str) -> None:
        assert text.startswith("AT+CMUX=0,0,5,")

    answering = asyncio.ensure_future(answer_sabm())
    await mux.enter(command)
    dlc = Recorder()
    pipe = await mux.open_dlc(1, dlc, on_gap=dlc.gaps.append)
    await answering
    return mux, wire, dlc, pipe


def msc(wire: Wire) -> list[ModemStatus]:
    out = []
    for frame in wire.frames:
        if frame.dlci == 0 and frame.type == FrameType.UIH:
            for message in decode_controls(frame.info):
                if message.code == ControlType.MSC and message.command:
                    out.append(ModemStatus(message.value[0] >> 2, fc=bool(message.value[1] & 2)))
    return out


async def test_pause_sends_msc_holds_and_resume_flushes_in_order() -> None:
    mux, wire, dlc, pipe = await opened()
    assert mux.state is MuxState.OPEN
    mux.data_received(encode_uih(1, b"one ", 512, cr=False))
    pipe.pause_reading()
    assert msc(wire) == [ModemStatus(1, fc=True)]
    mux.data_received(encode_uih(1, b"two ", 512, cr=False) + encode_uih(1, b"three", 2, False))
    assert bytes(dlc.data) == b"one " and pipe.held_bytes == 9
    pipe.resume_reading()
    assert msc(wire)[-1] == ModemStatus(1, fc=False)
    assert bytes(dlc.data) == b"one "  # delivered on the next loop turn, not inside resume
    await asyncio.sleep(0)
    assert bytes(dlc.data) == b"one two three"
    pipe.write(b"AT\r")
    assert wire.frames[-1] == Frame(1, FrameType.UIH, b"AT\r")


async def test_a_module_ignoring_msc_cannot_grow_the_held_bytes() -> None:
    mux, _, dlc, pipe = await opened()
    pipe.pause_reading()
    chunk = encode_uih(1, b"x" * 512, 512, cr=False)
    for _ in range(MAX_HELD // 512 + 10):
        mux.data_received(chunk)
    assert pipe.held_bytes <= MAX_HELD
    assert pipe.dropped_bytes == 10 * 512
    assert dlc.gaps and "dropped" in dlc.gaps[0]


async def test_module_flow_control_holds_our_writes() -> None:
    mux, wire, _, pipe = await opened()
    value = modem_status(ModemStatus(1, fc=True))
    mux.data_received(
        encode_frame(
            Frame(
                0,
                FrameType.UIH,
                encode_control(ControlMessage(ControlType.MSC, True, value)),
                cr=False,
            )
        )
    )
    answer = decode_controls(wire.frames[-1].info)
    assert answer == [ControlMessage(ControlType.MSC, False, value)]
    pipe.write(b"AT\r")
    assert wire.frames[-1].dlci == 0  # held
    value = modem_status(ModemStatus(1))
    mux.data_received(
        encode_frame(
            Frame(
                0,
                FrameType.UIH,
                encode_control(ControlMessage(ControlType.MSC, True, value)),
                cr=False,
            )
        )
    )
    assert wire.frames[-2] == Frame(1, FrameType.UIH, b"AT\r")  # then the MSC answer


async def test_bad_fcs_is_a_gap_of_its_dlc_and_at_text_means_the_mux_vanished() -> None:
    mux, wire, dlc, pipe = await opened()
    frame = bytearray(encode_uih(1, b"lost", 512, cr=False))
    frame[-2] ^= 0xFF
    mux.data_received(bytes(frame))
    assert dlc.gaps == ["multiplexer frame lost (bad FCS)"]
    await asyncio.sleep(0.6)  # the liveness Test goes unanswered: the mux is gone
    assert any(
        decode_controls(f.info)[0].code == ControlType.TEST
        for f in wire.frames
        if f.dlci == 0 and f.type == FrameType.UIH
    )
    assert mux.state is MuxState.VANISHED
    # while vanished, DLC 1 talks AT on the raw port, and AT text reaches it
    pipe.write(b"AT\r")
    assert wire.raw.endswith(b"AT\r")
    mux.data_received(b"\r\nOK\r\n")
    assert dlc.data.endswith(b"\r\nOK\r\n")


async def test_at_text_between_frames_is_told_apart() -> None:
    mux, _, dlc, _ = await opened()
    mux.data_received(encode_uih(1, b"data", 512, cr=False) + b"\r\n+PBREADY\r\n")
    assert mux.state is MuxState.VANISHED
    assert bytes(dlc.data) == b"data\r\n+PBREADY\r\n"
