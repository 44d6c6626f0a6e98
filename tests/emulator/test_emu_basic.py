"""Basic commands, echo, line endings, CME errors and the data link."""

from __future__ import annotations

from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, EmuFactory, Port

from n58aio.emulator import Emulator


async def test_at_echo_and_ate(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT", OK)
    port.send(b"AT\r")
    await port.expect(b"AT\r\r\nOK\r\n")
    await port.cmd(b"ATE0", OK)
    await port.cmd(b"AT", OK, echo=False)
    await port.cmd(b"AT+CMEE?", b"\r\n+CMEE: 1\r\nOK\r\n", echo=False)
    await port.cmd(b"ATE1", OK, echo=False)
    await port.cmd(b"AT", OK)
    await port.cmd(b"ATE2", ERROR)


async def test_line_endings_and_case(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    port.send(b"AT\r\n")
    await port.expect(b"AT\r\r\nOK\r\n")
    port.send(b"at\n")
    await port.expect(b"at\n\r\nOK\r\n")
    port.send(b"at+cmee?\r")
    await port.expect(b"at+cmee?\r\r\n+CMEE: 1\r\nOK\r\n")
    # An empty line is echoed and otherwise ignored.
    port.send(b"\rAT\r")
    await port.expect(b"\rAT\r\r\nOK\r\n")
    await port.cmd(b"AT+ CMEE ?", b"\r\n+CMEE: 1\r\nOK\r\n")


async def test_unknown_and_garbage(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+FOOBAR", b"\r\n+CME ERROR: 58\r\n")  # captured (AT+CMEE=1)
    await port.cmd(b"HELLO", ERROR)
    await port.cmd(b"AT+HTTPPARA", ERROR)
    await port.cmd(b"ATX9Y", ERROR)


async def test_commands_sent_together_are_queued(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    port.send(b"AT\rAT+CMEE?\rAT+NOPE\r")
    await port.expect(
        b"AT\r\r\nOK\r\nAT+CMEE?\r\r\n+CMEE: 1\r\nOK\r\nAT+NOPE\r\r\n+CME ERROR: 58\r\n"
    )


async def test_identification(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    port.send(b"ATI\r")
    answer = await port.read_until(b"\r\nOK\r\n")
    assert answer.startswith(b"ATI\r\r\nNeoway\r\nN58\r\nRevision: ")
    port.send(b"AT+CGMR\r")
    answer = await port.read_until(b"\r\nOK\r\n")
    assert answer.startswith(b"AT+CGMR\r\r\nN58-")


async def test_cmee_modes(make_emu: EmuFactory) -> None:
    _, port = await make_emu()
    await port.cmd(b"AT+CMEE=?", b"\r\n+CMEE: (0-2)\r\nOK\r\n")
    await port.cmd(b"AT+FILEHTTPACTION=0,0,524288", b"\r\n+CME ERROR: 1001\r\n")
    await port.cmd(b"AT+CMEE=2", OK)
    await port.cmd(b"AT+FILEHTTPACTION=0,0,524288", b"\r\n+CME ERROR: PDP not active\r\n")
    await port.cmd(b"AT+CMEE=0", OK)
    await port.cmd(b"AT+FILEHTTPACTION=0,0,524288", ERROR)
    await port.cmd(b"AT+CMEE?", b"\r\n+CMEE: 0\r\nOK\r\n")
    await port.cmd(b"AT+CMEE=3", ERROR)


async def test_xiic_data_link(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(attach_delay=0.2)
    await port.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")
    await port.cmd(b"AT+XIIC=1", OK)
    # Still attaching: the link comes up after attach_delay.
    await port.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")
    for _ in range(100):
        if emu.pdp_up:
            break
        await port.quiet(0.02)
    port.send(b"AT+XIIC?\r")
    answer = await port.read_until(b"\r\nOK\r\n")
    assert answer.startswith(b"AT+XIIC?\r\r\n+XIIC:    1,10.0.0.")
    await port.cmd(b"AT+XIIC=0", OK)
    await port.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")
    await port.cmd(b"AT+XIIC=2", b"\r\n+CME ERROR: 53\r\n")


async def test_command_latency(make_emu: EmuFactory) -> None:
    _, port = await make_emu(command_latency=0.3)
    port.send(b"AT\r")
    await port.expect(b"AT\r")
    await port.quiet(0.1)
    await port.expect(OK)
