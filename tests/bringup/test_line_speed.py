"""Line speed: open at the module's boot rate, switch with AT+IPR, the port follows."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import ModemFactory

import n58aio
from n58aio.emulator import OriginServer
from n58aio.emulator.origin import pattern_sha256

SECRET_PIN = "8642"
SECRET_PASSWORD = "pa55-w0rd"


async def test_open_switches_an_auto_baud_module_to_921600(make_modem: ModemFactory) -> None:
    emu, modem = await make_modem(attach=False, config={"auto_baud": True}, baudrate=921600)
    assert emu.line_rate == 921600 and emu.host_rate == 921600
    assert modem.line_rate == 921600 and modem.channel.baudrate == 921600
    reply = await modem.command("AT+IPR?")
    assert reply.lines == ["+IPR: 921600"]


async def test_a_port_left_behind_garbles_the_line(make_modem: ModemFactory) -> None:
    """The switch is real: a module at 921600 does not understand a host at 115200."""
    emu, modem = await make_modem(attach=False, config={"auto_baud": True})
    await modem.command("AT+IPR=921600")
    assert emu.line_rate == 921600
    with pytest.raises(n58aio.CommandTimeout):
        await modem.command("AT", timeout=1.0)
    modem.channel.set_line_rate(921600)
    await modem.resync()
    assert (await modem.command("AT")).final == "OK"


async def test_pin_apn_credentials_auto_baud_attach_then_921600_download(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 200_000
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
        baudrate=921600,
    )
    status = await modem.attach(
        apn="corp.m2m", user="gw", password=SECRET_PASSWORD, pin=SECRET_PIN, timeout=15
    )
    assert status.up and emu.sim_unlocked
    assert emu.line_rate == 921600 and modem.line_rate == 921600
    target = tmp_path / "fw.bin"
    result = await modem.download(origin_server.url(f"/bytes/{size}"), target)
    assert result.sha256 == pattern_sha256(size)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == pattern_sha256(size)


@pytest.mark.parametrize(
    ("options", "words"),
    [({"baudrate": 1000000}, "baudrate 1000000"), ({"initial_baudrate": 7}, "initial_baudrate")],
)
async def test_a_rate_the_module_has_not_is_refused_before_opening(
    options: dict[str, Any], words: str
) -> None:
    with pytest.raises(n58aio.InvalidValue, match=words):
        n58aio.open_modem("/dev/null-not-opened", **options)
