"""Bring-up of the emulated module: SIM and PIN, registration, signal, APN and credentials, data
link loss, restarts, auto-baud, AT+IPR and the V.250 / 27.007 basics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, PBREADY, EmuFactory, Port

from n58aio.emulator import Emulator, EmulatorConfig

Booter = Callable[..., Awaitable[tuple[Emulator, Port]]]


def _info(*lines: str) -> bytes:
    return b"\r\n" + "\r\n".join(lines).encode() + b"\r\nOK\r\n"


@pytest.fixture(name="boot")
async def boot_fixture() -> AsyncIterator[Booter]:
    """Start an emulator and open its port without waiting for any boot report."""
    running: list[tuple[Emulator, Port]] = []

    async def factory(**settings: Any) -> tuple[Emulator, Port]:
        emu = await Emulator(EmulatorConfig(**settings)).start()
        port = await Port.open(emu.url)
        running.append((emu, port))
        return emu, port

    yield factory
    for emu, port in running:
        await port.close()
        await emu.close()


async def test_pin_locked_sim(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(sim="pin", sim_pin="4711")
    await port.cmd(b"AT+CPIN?", _info("+CPIN: SIM PIN"))
    await port.cmd(b"AT+CIMI", ERROR)
    await port.cmd(b"AT+CREG?", _info("+CREG: 0,0"))
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 11\r\n")
    await port.cmd(b'AT+CPIN="0000"', b"\r\n+CME ERROR: 16\r\n")
    assert not emu.sim_unlocked
    await port.cmd(b'AT+CPIN="4711"', OK + PBREADY)
    assert emu.sim_unlocked
    await port.cmd(b"AT+CPIN?", _info("+CPIN: READY"))
    await port.cmd(b"AT+CREG?", _info("+CREG: 0,1"))
    await port.cmd(b"AT+CIMI", _info("+CIMI: 001010123456789"))
    await port.cmd(b"AT+CCID", _info("+CCID: 89860012345678901234"))
    await port.cmd(b"AT+CPIN=4711", b"\r\n+CME ERROR: 3\r\n")  # nothing asked any more


async def test_three_wrong_pins_block_the_sim_and_the_puk_unblocks(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(sim="pin")
    for _ in range(3):
        await port.cmd(b"AT+CPIN=9999", b"\r\n+CME ERROR: 16\r\n")
    await port.cmd(b"AT+CPIN?", _info("+CPIN: SIM PUK"))
    await port.cmd(b"AT+CPIN=1234", b"\r\n+CME ERROR: 12\r\n")  # the right PIN is too late
    await port.cmd(b'AT+CPIN="12345678","2468"', OK + PBREADY)
    emu.faults.restart()
    await port.expect(PBREADY)
    await port.cmd(b"AT+CPIN?", _info("+CPIN: SIM PIN"))  # locked again after the restart
    await port.cmd(b"AT+CPIN=2468", OK + PBREADY)


async def test_no_sim(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(sim="absent")
    await port.cmd(b"AT+CPIN?", _info("+CPIN: NO SIM"))  # captured
    await port.cmd(b"AT+CCID", ERROR)
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 50\r\n")  # captured
    await port.cmd(b"AT+CMEE=2", OK)
    await port.cmd(b'AT+CPIN="1234"', b"\r\n+CME ERROR: SIM not inserted\r\n")
    emu.faults.set_sim("ready")
    await port.cmd(b"AT+CPIN?", _info("+CPIN: READY"))


async def test_apn_and_credentials_the_network_requires(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(network_apn="corp.m2m", network_user="gw", network_password="s3")
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 900\r\n")
    await port.cmd(b'AT+CGDCONT=1,"IP","corp.m2m"', OK)
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 900\r\n")  # credentials still missing
    await port.cmd(b'AT+XGAUTH=1,1,"gw","wrong"', OK)
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 900\r\n")
    await port.cmd(b'AT+XGAUTH=1,1,"gw","s3"', OK)
    await port.cmd(b"AT+CGDCONT?", _info('+CGDCONT: 1,"IP","corp.m2m","0.0.0.0",0,0'))
    await port.cmd(b"AT+XIIC=1", OK)
    await asyncio.sleep(0.05)
    assert emu.pdp_up
    await port.cmd(b"AT+XGAUTH=1,1", ERROR)  # PAP without user and password


async def test_registration_states_reports_and_reject_cause(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(registration="denied", reject_cause=15)
    await port.cmd(b"AT+CEREG=3", OK)
    await port.cmd(b"AT+CEREG?", _info("+CEREG: 3,3,,,,0,15"))
    await port.cmd(b"AT+CREG?", _info("+CREG: 0,3"))
    await port.cmd(b"AT+XIIC=1", b"\r\n+CME ERROR: 30\r\n")
    await port.cmd(b"AT+COPS?", _info("+COPS: 0"))
    await port.cmd(b"AT+CREG=1", OK)
    emu.faults.set_registration("searching")
    await port.expect(b"\r\n+CREG: 2\r\n\r\n+CEREG: 2\r\n")
    emu.faults.set_registration("roaming")
    await port.expect(b'\r\n+CREG: 5\r\n\r\n+CEREG: 5,"1A2B","0C3D4E5F",7\r\n')
    await port.cmd(b"AT+COPS?", _info('+COPS: 0,0,"EMU NET",7'))
    await port.cmd(b"AT+CGATT?", _info("+CGATT: 1"))
    await port.cmd(b"AT+CEREG=5", ERROR)


async def test_signal_levels(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(csq=20)
    await port.cmd(b"AT+CSQ", _info("+CSQ: 20,99"))
    await port.cmd(b"AT+CESQ", _info("+CESQ: 99,99,255,255,16,48"))
    emu.faults.set_signal(99)
    await port.cmd(b"AT+CSQ", _info("+CSQ: 99,99"))
    await port.cmd(b"AT+CESQ", _info("+CESQ: 99,99,255,255,255,255"))
    with pytest.raises(ValueError, match="csq"):
        emu.faults.set_signal(40)


async def test_data_link_drop_and_registration_loss(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(pdp_up=True)
    assert emu.faults.drop_data_link()
    await port.expect(b"\r\nGPRS DISCONNECTION\r\n")
    await port.cmd(b"AT+XIIC?", _info("+XIIC:    0,0.0.0.0"))
    assert not emu.faults.drop_data_link()
    await port.cmd(b"AT+XIIC=1", OK)
    await asyncio.sleep(0.05)
    emu.faults.set_registration("idle")
    await port.expect(b"\r\nGPRS DISCONNECTION\r\n")
    assert not emu.pdp_up


async def test_restart_with_and_without_boot_report(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(pdp_up=True)
    await port.cmd(b"ATE0", OK)
    await port.cmd(b"AT+CMEE=2", OK, echo=False)
    emu.faults.restart(report=False)
    await port.quiet(0.2)
    await port.cmd(b"AT+CMEE?", _info("+CMEE: 1"))  # settings gone, echo back on
    await port.cmd(b"AT+XIIC?", _info("+XIIC:    0,0.0.0.0"))
    emu.faults.restart()
    await port.expect(PBREADY)


async def test_auto_baud_silent_until_the_first_at(boot: Booter) -> None:
    emu, port = await boot(auto_baud=True)
    await port.quiet(0.2)  # no +PBREADY at auto-baud
    port.send(b"\r\n")
    await port.quiet(0.1)
    port.writer.transport.serial.baudrate = 921600  # type: ignore[attr-defined]
    port.send(b"AT\r")
    await port.quiet(0.2)  # beyond what the detection reaches
    port.writer.transport.serial.baudrate = 115200  # type: ignore[attr-defined]
    port.send(b"AT\r")
    await port.expect(b"AT\r" + OK + PBREADY)
    assert emu.line_rate == 115200
    await port.cmd(b"AT+IPR?", _info("+IPR: 0"))


async def test_ipr_switches_the_rate_and_a_restart_forgets_it(make_emu: EmuFactory) -> None:
    emu, port = await make_emu(baud=115200)
    serial = port.writer.transport.serial  # type: ignore[attr-defined]
    await port.cmd(b"AT+IPR=921600", OK)  # answered at the old rate
    await asyncio.sleep(0.05)
    assert emu.line_rate == 921600
    port.send(b"AT\r")  # still at 115200 on the host side: the module sees no line end
    await port.quiet(0.2)
    emu.faults.inject(b"\r\nHELLO\r\n")  # and what it says is garbled
    assert all(byte >= 0x80 for byte in await port.read_exactly(9))
    serial.baudrate = 921600
    port.send(b"\r")  # ends the garbled line: ERROR
    assert (await port.read_until(ERROR)).endswith(b"\r" + ERROR)
    await port.cmd(b"AT+IPR?", _info("+IPR: 921600"))
    await port.cmd(b"AT+IPR=100", ERROR)
    emu.faults.restart(report=False)
    serial.baudrate = 115200
    await port.cmd(b"AT+IPR?", _info("+IPR: 0"))


async def test_v250_and_27007_basics(make_emu: EmuFactory) -> None:
    _, port = await make_emu()
    await port.cmd(b"AT+CMEE=0", OK)
    await port.cmd(b"ATZ", OK)
    await port.cmd(b"AT+CMEE?", _info("+CMEE: 1"))
    await port.cmd(b"AT&F", OK)
    await port.cmd(b"AT+GCAP", _info("+GCAP: +CGSM"))
    await port.cmd(b"AT+CGMI", _info("Neoway"))
    await port.cmd(b"AT+CGMM", _info("+CGMM: N58"))
    await port.cmd(b"AT+CFUN?", _info("+CFUN: 1"))
    await port.cmd(b"ATV0", b"0\r")
    await port.cmd(b"AT+FOO", b"4\r")
    await port.cmd(b"ATV1", OK)
    await port.cmd(b"ATQ1", b"")
    await port.cmd(b"ATQ0", OK)
    await port.cmd(b"AT+CFUN=4", OK)
    await port.cmd(b"AT+CREG?", _info("+CREG: 0,0"))
    await port.cmd(b"AT+CFUN=1,1", OK + PBREADY)  # a reset: echo still on by default


async def test_python_gsmmodem_connects(make_emu: EmuFactory) -> None:
    """An off-the-shelf AT client (python-gsmmodem-new): its connect sequence succeeds."""
    from gsmmodem.modem import GsmModem

    emu, port = await make_emu(sim="pin")
    await port.close()

    def connect() -> tuple[str, str, str]:
        modem = GsmModem(emu.url, 115200)
        try:
            modem.connect(pin="1234", waitingForModemToStartInSeconds=2)
            return modem.manufacturer, modem.model, modem.imei
        finally:
            modem.close()

    manufacturer, model, imei = await asyncio.to_thread(connect)
    assert manufacturer == "Neoway"
    assert "N58" in model
    assert imei.endswith(f"{emu.ident:011d}")
