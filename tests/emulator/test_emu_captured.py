"""The emulator's reply bytes where captures of a real N58 (firmware N58-R07-STD-OE_V20) show
them (issue #24, items 7 and 8): information text followed by ``OK`` with no empty line, and
``+CME ERROR`` codes 58 (unknown command), 53 (bad parameter), 50 (``AT+XIIC=1`` without a
SIM); ``AT+CPIN?`` without a SIM answers ``+CPIN: NO SIM``."""

from __future__ import annotations

import pytest
from conftest import ModemFactory
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, EmuFactory, Port

import n58aio
import n58aio.errors
from n58aio.emulator import Emulator


async def test_information_text_has_no_empty_line_before_ok(
    emu_port: tuple[Emulator, Port],
) -> None:
    _, port = emu_port
    await port.cmd(b"AT+XIIC=0", OK)
    port.send(b"AT+XIIC?\r")
    await port.expect(b"AT+XIIC?\r\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")  # the capture, byte for byte
    await port.cmd(b"AT+CGMM", b"\r\n+CGMM: N58\r\nOK\r\n")
    await port.cmd(b"AT+CMEE=?", b"\r\n+CMEE: (0-2)\r\nOK\r\n")
    await port.cmd(b"AT+CSQ", b"\r\n+CSQ: 24,99\r\nOK\r\n")
    await port.cmd(b"AT", OK)  # no information text: the result keeps its own CR LF


async def test_a_file_read_ends_the_same_way(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    port.send(b"AT+FSWF=a.txt,0,5,1000\r")
    await port.expect(b"AT+FSWF=a.txt,0,5,1000\r\r\n>")
    port.send(b"ab\r\nc")
    await port.expect(b"ab\r\nc" + OK)
    await port.cmd(b"AT+FSRF=a.txt,0,5", b"\r\n+FSRF: 5,ab\r\nc\r\nOK\r\n")


async def test_cme_codes_as_captured(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+CMEE=1", OK)
    await port.cmd(b"AT+TCPSET=0,1.2.3.4,80", b"\r\n+CME ERROR: 58\r\n")  # unknown command
    await port.cmd(b"AT+XIIC=9", b"\r\n+CME ERROR: 53\r\n")  # bad parameter
    await port.cmd(b"AT+CMEE=2", OK)  # the text form: the manual's words (appendix H)
    await port.cmd(
        b"AT+XIIC=9",
        b"\r\n+CME ERROR: " + b"not attached to network due to MT functionality restrictions\r\n",
    )
    await port.cmd(b"AT+CMEE=0", OK)
    await port.cmd(b"AT+TCPSET=0,1.2.3.4,80", ERROR)
    await port.cmd(b"AT+XIIC=9", ERROR)


async def test_without_a_sim(make_emu: EmuFactory) -> None:
    _, port = await make_emu(sim="absent")
    await port.cmd(b"AT+CPIN?", b"\r\n+CPIN: NO SIM\r\nOK\r\n")
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 50\r\n")
    await port.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n")
    await port.cmd(b'AT+CPIN="1234"', b"\r\n+CME ERROR: 10\r\n")


async def test_the_client_reads_the_captured_forms(make_modem: ModemFactory) -> None:
    """End to end: the modem takes the emulator's captured replies (tests/wire proves the
    spaced form of other firmware too)."""
    _, modem = await make_modem(attach=False)
    assert (await modem.command("AT+XIIC?")).lines == ["+XIIC:    0,0.0.0.0"]
    with pytest.raises(n58aio.CommandError) as caught:
        await modem.command("AT+TCPSET=0,1.2.3.4,80")
    assert caught.value.code == 58
    assert str(caught.value).endswith("+CME ERROR: 58 (unknown command (not in this firmware))")
    with pytest.raises(n58aio.CommandError) as caught:
        await modem.command("AT+XIIC=9")
    assert (caught.value.code, caught.value.meaning) == (53, n58aio.errors.CME_CODES[53][1])
    _, no_sim = await make_modem(attach=False, config={"sim": "absent"})
    with pytest.raises(n58aio.NoSimError):  # from "+CPIN: NO SIM", then OK
        await no_sim.attach()
