"""Fault injection, the data-phase timeout and output backpressure."""

from __future__ import annotations

import asyncio

import pytest
import serial
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import OK, PBREADY, EmuFactory, Origin, Port, Reply, pattern

from n58aio.emulator import Emulator

CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


async def get_link(port: Port, origin: Origin, path: bytes, recvmode: int = 1) -> None:
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn" + path, OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPPARA=recvmode,%d" % recvmode, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)


async def test_drop_and_garble(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    emu.faults.drop_next(3)
    port.send(b"AT\r")
    await port.expect(b"\r\nOK\r\n")
    emu.faults.garble_next(2)
    port.send(b"AT\r")
    await port.expect(bytes([ord("A") ^ 0xFF, ord("T") ^ 0xFF]) + b"\r\r\nOK\r\n")
    emu.faults.drop_next(1)
    emu.faults.garble_next(1)
    port.send(b"AT\r")
    await port.expect(bytes([ord("T") ^ 0xFF]) + b"\r\r\nOK\r\n")
    await port.cmd(b"AT", OK)


async def test_stall(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    emu.faults.stall(1.0)
    port.send(b"AT\r")
    await port.quiet(0.4)
    await port.expect(b"AT\r\r\nOK\r\n")


async def test_close_link_at_body_offset(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(pdp_up=True)
    origin.route("/big", Reply(200, chunks=[pattern(10000, i) for i in range(5)]))
    await get_link(port, origin, b"/big")
    emu.faults.after_body_bytes(12345, emu.faults.close_link)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    payload, lengths, rest = await port.recv_reports()
    assert rest == CLOSED
    assert len(payload) == 12345
    assert max(lengths) <= 1460  # the default chunk size
    assert payload == bytes(origin.sent[0][:12345])
    await port.quiet(0.2)
    await port.cmd(b"AT+HTTPACTION=0", b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n")


async def test_close_link_now(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(pdp_up=True)
    origin.route("/drip", Reply(200, chunks=[b"y" * 100] * 100, delay=0.02))
    await get_link(port, origin, b"/drip", recvmode=0)
    assert not emu.faults.close_link("https")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    await port.expect(b"\r\n+HTTPRECV:\r\n")
    assert emu.faults.close_link()
    stream = await port.read_until(CLOSED)
    assert stream.startswith(b"HTTP/1.1 200 ")
    assert len(stream) < 10000


async def test_reset(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(pdp_up=True)
    origin.route("/drip", Reply(200, chunks=[b"z" * 100] * 50, delay=0.02))
    await get_link(port, origin, b"/drip")
    await port.cmd(b'AT+HTTPSCFG="authmode",1', OK)
    await port.cmd(b"AT+CMEE=2", OK)
    await port.cmd(b"ATE0", OK)
    port.send(b"AT+HTTPACTION=0\r")
    await port.expect(OK)
    await port.expect(b"\r\n+HTTPRECV: ")
    emu.faults.reset()
    await port.read_until(PBREADY)
    await port.quiet(0.2)
    await port.cmd(b"AT", OK)  # echo back on
    await port.cmd(b"AT+CMEE?", b"\r\n+CMEE: 1\r\nOK\r\n")
    await port.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,0,,,,\r\nOK\r\n")
    await port.cmd(b"AT+HTTPACTION=0", b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n")
    await port.cmd(b"AT+XIIC=1", OK)
    await port.cmd(b"AT+HTTPSETUP", b"\r\nERROR\r\n")  # url cleared too
    assert origin.closed_connections == 1


async def test_reset_during_data_phase(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    emu, port = emu_port
    await get_link(port, origin, b"/")
    await port.cmd(b"AT+HTTPACTION=2,100", b"\r\n>")
    port.send(b"partial")
    await port.expect(b"partial")
    emu.faults.reset()
    await port.expect(PBREADY)
    await port.cmd(b"AT", OK)  # command mode again
    assert origin.requests == []


async def test_drop_port(emu_port: tuple[Emulator, Port]) -> None:
    emu, port = emu_port
    device = emu.device
    await port.cmd(b"AT", OK)
    emu.faults.drop_port()
    assert not emu.alive
    data = b"x"
    try:
        async with asyncio.timeout(5):
            data = await port.reader.read(100)
    except (OSError, serial.SerialException):
        data = b""
    assert data == b""
    with pytest.raises((OSError, serial.SerialException)):
        serial.Serial(device, 115200, timeout=0.2)


async def test_send_error_when_link_dropped_during_prompt(
    emu_port: tuple[Emulator, Port], origin: Origin
) -> None:
    emu, port = emu_port
    await get_link(port, origin, b"/")
    await port.cmd(b"AT+HTTPACTION=2,4", b"\r\n>")
    assert emu.faults.close_link("http")
    port.send(b"data")
    await port.expect(b"data\r\n+HTTPSEND: ERROR\r\n" + CLOSED)
    await port.cmd(b"AT+HTTPACTION=0", b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n")
    assert origin.requests == []


async def test_inject_at_safe_point(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    emu, port = emu_port
    origin.route("/", Reply(200, body=b"done"))
    await get_link(port, origin, b"/", recvmode=1)
    await port.cmd(b"AT+HTTPACTION=2,5", b"\r\n>")
    emu.faults.inject(b"\r\n+CREG: 1\r\n")
    await port.quiet(0.2)  # not inside the prompt exchange
    port.send(b"hello")
    await port.expect(b"hello\r\nOK\r\n\r\n+CREG: 1\r\n")
    sent = await origin.response(0)
    await port.expect(b"\r\n+HTTPRECV: %d," % len(sent) + sent + b"\r\n" + CLOSED)
    emu.faults.inject(b"GARBAGE")
    await port.expect(b"GARBAGE")


async def test_inject_immediate_lands_inside(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(pdp_up=True, baud=200000, chunk_size=8000)
    body = b"-" * 3000
    origin.route("/", Reply(200, body=body))
    await get_link(port, origin, b"/")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    head = await port.read_until(b",")
    assert head.startswith(b"\r\n+HTTPRECV: ")
    length = int(head[len(b"\r\n+HTTPRECV: ") : -1])
    emu.faults.inject(b"@INJECTED@", immediate=True)
    data = await port.read_exactly(length + len(b"@INJECTED@"))
    position = data.find(b"@INJECTED@")
    assert 0 < position < length
    assert data.replace(b"@INJECTED@", b"") == await origin.response(0)


async def test_data_phase_timeout(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True, data_timeout=0.5)
    await get_link(port, origin, b"/")
    await port.cmd(b"AT+HTTPACTION=2,10", b"\r\n>")
    port.send(b"abc")
    await port.expect(b"abc\r\nOPERATION EXPIRED\r\n")
    await port.cmd(b"AT", OK)
    assert origin.requests == []


async def test_backpressure_bounds_relay(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(pdp_up=True, relay_buffer=16384, chunk_size=4096)
    body = pattern(4_000_000)
    origin.route(
        "/huge", Reply(200, chunks=[body[i : i + 65536] for i in range(0, len(body), 65536)])
    )
    await get_link(port, origin, b"/huge")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    await asyncio.sleep(0.5)  # the client does not read
    assert emu.pending_output <= 16384 + 4096 + 64
    assert len(origin.sent[0]) < len(body)  # the server is held back too
    payload, _, rest = await port.recv_reports()
    assert rest == CLOSED
    assert payload == await origin.response(0)
