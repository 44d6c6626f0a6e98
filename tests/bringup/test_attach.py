"""Modem.attach as the bring-up, and Modem.status, through the emulated module."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import structlog.testing
from conftest import ModemFactory

import n58aio
from n58aio.emulator import OriginServer
from n58aio.emulator.origin import pattern_sha256

SECRET_PIN = "8642"
SECRET_PASSWORD = "pa55-w0rd"


async def test_pin_apn_credentials_at_auto_baud_then_download(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Any
) -> None:
    size = 150_000
    emu, modem = await make_modem(
        attach=False,
        config={
            "auto_baud": True,
            "sim": "pin",
            "sim_pin": SECRET_PIN,
            "network_apn": "corp.m2m",
            "network_user": "gw",
            "network_password": SECRET_PASSWORD,
        },
    )
    assert emu.line_rate is None  # silent, not locked yet
    with structlog.testing.capture_logs() as logs:
        status = await modem.attach(
            apn="corp.m2m", user="gw", password=SECRET_PASSWORD, pin=SECRET_PIN, timeout=10
        )
    assert status.up and status.address
    assert emu.sim_unlocked and emu.line_rate == 115200
    assert SECRET_PIN not in repr(logs) and SECRET_PASSWORD not in repr(logs)
    assert any(entry["event"] == "bringup.pin_sent" for entry in logs)
    again = await modem.attach(apn="corp.m2m", user="gw", password=SECRET_PASSWORD, pin=SECRET_PIN)
    assert again == status  # idempotent: nothing asked twice
    target = tmp_path / "fw.bin"
    result = await modem.download(origin_server.url(f"/bytes/{size}"), target)
    assert result.sha256 == pattern_sha256(size)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == pattern_sha256(size)


async def test_status_snapshot(make_modem: ModemFactory) -> None:
    emu, modem = await make_modem(config={"csq": 20})
    status = await modem.status()
    assert status.rssi == 20 and status.signal_dbm == -73 and status.rsrp_dbm == 48 - 141
    assert status.registration == "home" and status.technology == "LTE"
    assert status.operator == "EMU NET"
    assert status.imei == f"8658{emu.ident:011d}"
    assert status.imsi == "001010123456789" and status.iccid == "89860012345678901234"
    assert status.firmware and status.firmware.startswith("N58")
    assert status.link_up and status.address == f"10.0.0.{2 + emu.ident % 250}"


@pytest.mark.parametrize(
    ("config", "options", "error", "words"),
    [
        ({"sim": "absent"}, {}, n58aio.NoSimError, "no SIM card"),
        ({"sim": "pin"}, {}, n58aio.SimPinRequired, "pass pin="),
        ({"sim": "puk"}, {"pin": "1234"}, n58aio.SimPukRequired, "PUK"),
        ({"registration": "searching"}, {"timeout": 1.5}, n58aio.NotRegisteredError, "searching"),
        ({"registration": "idle"}, {"timeout": 1.5}, n58aio.NotRegisteredError, "not searching"),
        (
            {"registration": "denied", "reject_cause": 15},
            {},
            n58aio.RegistrationDeniedError,
            "reject cause 15",
        ),
        (
            {"registration": "searching", "csq": 99},
            {"timeout": 1.5},
            n58aio.NoSignalError,
            "no signal",
        ),
        (
            {"network_apn": "corp.m2m"},
            {"apn": "internet"},
            n58aio.LinkRefusedError,
            "APN 'internet' (+CME ERROR: 900)",
        ),
    ],
)
async def test_each_failure_has_its_error(
    make_modem: ModemFactory,
    config: dict[str, Any],
    options: dict[str, Any],
    error: type[n58aio.BringUpError],
    words: str,
) -> None:
    _, modem = await make_modem(attach=False, config=config)
    with pytest.raises(error) as caught:
        await modem.attach(**options)
    assert words in str(caught.value)


async def test_wrong_pin_is_sent_once_and_never_shown(make_modem: ModemFactory) -> None:
    emu, modem = await make_modem(attach=False, config={"sim": "pin", "sim_pin": "1111"})
    sent: list[str] = []
    emu.faults.on_command("AT+CPIN=", lambda: sent.append("pin"))
    with structlog.testing.capture_logs() as logs, pytest.raises(n58aio.WrongPinError) as caught:
        await modem.attach(pin="9753")
    assert sent == ["pin"]
    assert "9753" not in str(caught.value) and "9753" not in repr(logs)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    reply = await modem.command("AT+CPIN?")
    assert reply.lines == ["+CPIN: SIM PIN"]  # two tries left: the SIM is not blocked


async def test_bad_values_refused_before_writing(make_modem: ModemFactory) -> None:
    emu, modem = await make_modem(attach=False)
    before = emu.bytes_written
    with pytest.raises(n58aio.InvalidValue, match="PIN"):
        await modem.attach(pin="12ab")
    with pytest.raises(n58aio.InvalidValue, match="password") as caught:
        await modem.attach(password='x",y')
    assert 'x",y' not in str(caught.value)
    assert emu.bytes_written == before
