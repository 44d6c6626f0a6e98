"""The 27.010 codec: reference vectors both ways, any split, resynchronisation, bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n58aio.cmux import (
    NEED_DATA,
    ControlMessage,
    ControlType,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    ModemStatus,
    decode_controls,
    encode_control,
    encode_frame,
    encode_uih,
    fcs,
    modem_status,
    parse_modem_status,
)

# Frames of Zephyr's modem_cmux tests (tests/subsys/modem/modem_cmux) and of 27.010 basic mode
# examples as seen on the wire: (hex, the frame they are).
VECTORS = [
    ("F9033F011CF9", Frame(0, FrameType.SABM, cr=True, pf=True)),
    ("F9037301D7F9", Frame(0, FrameType.UA, cr=True, pf=True)),
    ("F9073F01DEF9", Frame(1, FrameType.SABM, cr=True, pf=True)),
    ("F9077301 15F9", Frame(1, FrameType.UA, cr=True, pf=True)),
    ("F90753013FF9", Frame(1, FrameType.DISC, cr=True, pf=True)),
    ("F90B3F0159F9", Frame(2, FrameType.SABM, cr=True, pf=True)),
    ("F90B730192F9", Frame(2, FrameType.UA, cr=True, pf=True)),
    ("F90B5301B8F9", Frame(2, FrameType.DISC, cr=True, pf=True)),
    ("F9233F01C9F9", Frame(8, FrameType.SABM, cr=True, pf=True)),
    ("F903EF05C301F2F9", Frame(0, FrameType.UIH, b"\xc3\x01")),  # CLD command
    ("F903EF05C101F2F9", Frame(0, FrameType.UIH, b"\xc1\x01")),  # CLD response
    ("F901FF0BE3070B09016CF9", Frame(0, FrameType.UIH, bytes.fromhex("E3070B0901"), False, True)),
    ("F901FF0BE1070B09016CF9", Frame(0, FrameType.UIH, bytes.fromhex("E1070B0901"), False, True)),
    ("F901FF05A30186F9", Frame(0, FrameType.UIH, b"\xa3\x01", False, True)),  # FCon
    ("F901FF05630186F9", Frame(0, FrameType.UIH, b"\x63\x01", False, True)),  # FCoff
    ("F907EF05415430F9", Frame(1, FrameType.UIH, b"AT")),
    ("F907EF050D0A30F9", Frame(1, FrameType.UIH, b"\r\n")),
    ("F90BEF050D0AB7F9", Frame(2, FrameType.UIH, b"\r\n")),
    (
        "F90BEF43" + b'AT+CGDCONT=1,"IP","trackunit.m2m"'.hex() + "23F9",
        Frame(2, FrameType.UIH, b'AT+CGDCONT=1,"IP","trackunit.m2m"'),
    ),
]
PPP_52 = bytes.fromhex(
    "7EFF7D23C0217D217D207D207D387D227D267D207D207D207D207D237D24C0237D257D265396"
    "7D38AA7D277D227D287D22D5A87E"
)


def decode_all(decoder: FrameDecoder) -> list[Frame | FrameError]:
    events: list[Frame | FrameError] = []
    while (event := decoder.next_event()) is not NEED_DATA:
        assert isinstance(event, Frame | FrameError)
        events.append(event)
    return events


def decode(data: bytes, n1: int = 32767) -> list[Frame | FrameError]:
    decoder = FrameDecoder(n1)
    decoder.receive_data(data)
    return decode_all(decoder)


@pytest.mark.parametrize(("wire", "frame"), VECTORS)
def test_reference_vectors_decode_and_encode_identically(wire: str, frame: Frame) -> None:
    data = bytes.fromhex(wire.replace(" ", ""))
    assert decode(data) == [frame]
    assert encode_frame(frame) == data


def test_ppp_frame_with_a_one_octet_length() -> None:
    wire = bytes.fromhex("F90BEF69") + PPP_52 + bytes.fromhex("F6F9")
    assert decode(wire) == [Frame(2, FrameType.UIH, PPP_52)]
    assert encode_uih(2, PPP_52, 127) == wire


def test_two_octet_length_and_n1_split() -> None:
    data = bytes(range(256)) * 2
    wire = encode_uih(3, data, 300, cr=False)
    frames = decode(wire)
    assert [len(f.info) for f in frames if isinstance(f, Frame)] == [300, 212]
    assert wire[1:5] == bytes((0x0D, 0xEF, (300 << 1) & 0xFE, 300 >> 7))
    assert b"".join(f.info for f in frames if isinstance(f, Frame)) == data


def test_fcs_of_the_header() -> None:
    assert fcs(b"\x03\x3f\x01") == 0x1C
    assert fcs(b"\x07\xef\x05") == 0x30


def test_ui_frames_check_their_information_too() -> None:
    frame = Frame(1, FrameType.UI, b"hello")
    wire = encode_frame(frame)
    assert wire[-2] == fcs(wire[1:-2])
    damaged = wire[:5] + b"J" + wire[6:]
    assert [type(e) for e in decode(damaged)] == [FrameError]


def test_bad_fcs_is_dropped_and_the_next_frame_decodes() -> None:
    good = encode_uih(1, b"AT\r", 64)
    bad = bytearray(good)
    bad[-2] ^= 0x55
    events = decode(bytes(bad) + good)
    assert events[0] == FrameError("bad FCS", len(good) - 1, bytes(bad[:-1]), 1)
    assert events[1:] == [Frame(1, FrameType.UIH, b"AT\r")]


def test_garbage_and_a_lost_flag_resynchronise() -> None:
    first = encode_uih(1, b"one", 64)
    second = encode_uih(2, b"two", 64)
    lost_flag = first[:-1] + b"x"  # the closing flag damaged
    events = decode(b"\r\nOK\r\n" + lost_flag + second)
    assert isinstance(events[0], FrameError)
    assert events[0].sample == b"\r\nOK\r\n"
    assert [e for e in events if isinstance(e, Frame)] == [Frame(2, FrameType.UIH, b"two")]
    assert any(isinstance(e, FrameError) and e.reason == "no closing flag" for e in events)


def test_shared_flags_and_idle_flags() -> None:
    a = encode_uih(1, b"a", 8)
    b = encode_uih(2, b"b", 8)
    assert decode(a[:-1] + b) == decode(a + b"\xf9\xf9" + b)
    assert len(decode(a[:-1] + b)) == 2


def test_over_n1_is_an_error_and_memory_stays_bounded() -> None:
    decoder = FrameDecoder(n1=31)
    decoder.receive_data(encode_uih(1, b"x" * 32, 32))
    events = decode_all(decoder)
    assert isinstance(events[0], FrameError)
    assert "N1" in events[0].reason
    decoder = FrameDecoder(n1=31)
    for _ in range(100):
        decoder.receive_data(b"\x55" * 1000)
        decode_all(decoder)
        assert decoder.buffered <= 31 + 6


def test_frame_limits() -> None:
    with pytest.raises(ValueError, match="DLCI"):
        Frame(62, FrameType.UIH)
    with pytest.raises(ValueError, match="N1"):
        FrameDecoder(0)
    with pytest.raises(ValueError, match="N1"):
        encode_uih(1, b"x", 40000)


def test_control_messages_round_trip() -> None:
    status = ModemStatus(dlci=2, fc=True)
    value = modem_status(status)
    assert value == bytes((0x0B, 0x01 | 0x02 | 0x04 | 0x08 | 0x80))
    assert parse_modem_status(value) == status
    msc = ControlMessage(ControlType.MSC, True, value)
    info = encode_control(msc) + encode_control(ControlMessage(ControlType.TEST, True, b"x" * 200))
    assert info[:2] == b"\xe3\x05"
    assert info[4:7] == b"\x23\x90\x03"  # a two-octet length: 200 = 0x48 | 1 << 7
    assert decode_controls(info) == [msc, ControlMessage(ControlType.TEST, True, b"x" * 200)]
    assert decode_controls(b"\xc3\x01") == [ControlMessage(ControlType.CLD, True)]
    assert ControlMessage(ControlType.NSC, False, b"\x93").type_octet == 0x11
    for bad in (b"\xe2\x01", b"\xe3", b"\xe3\x05\x0b", b"\xe3\x04"):
        with pytest.raises(ValueError, match="control"):
            decode_controls(bad)
    with pytest.raises(ValueError, match="MSC"):
        parse_modem_status(b"\x0b")


traffic = st.lists(
    st.tuples(st.integers(0, 61), st.binary(max_size=300), st.booleans()), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(
    traffic=traffic,
    n1=st.integers(1, 400),
    cuts=st.lists(st.integers(0, 10_000), max_size=30),
)
def test_any_interleaving_and_any_split_decode_the_same_frames(
    traffic: list[tuple[int, bytes, bool]], n1: int, cuts: list[int]
) -> None:
    wire = b"".join(encode_uih(dlci, data, n1, cr) for dlci, data, cr in traffic)
    decoder = FrameDecoder(n1)
    events: list[Frame | FrameError] = []
    last = 0
    for cut in [*sorted({min(c, len(wire)) for c in cuts}), len(wire)]:
        decoder.receive_data(wire[last:cut])
        last = cut
        events += decode_all(decoder)
    assert all(isinstance(e, Frame) for e in events)
    per_dlc: dict[int, bytes] = {}
    for event in events:
        assert isinstance(event, Frame)
        assert event.type == FrameType.UIH
        per_dlc[event.dlci] = per_dlc.get(event.dlci, b"") + event.info
    expected: dict[int, bytes] = {}
    for dlci, data, _ in traffic:
        if data:
            expected[dlci] = expected.get(dlci, b"") + data
    assert per_dlc == expected
    assert events == decode(wire, n1)
