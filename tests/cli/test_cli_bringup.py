"""``--pin``, ``--apn``, ``--user``, ``--password`` and their environment variables: a
gateway's first command on a fresh SIM and a network that wants an APN (issue #24, item 10).
The secrets reach the module and nothing else: not stdout, not stderr, not a debug log."""

from __future__ import annotations

import argparse
import asyncio
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import RunCli

from n58aio.cli import common
from n58aio.cli.common import EXIT_MODEM, EXIT_OK
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer

PIN = "4711"
APN = "m2m.example"
USER = "gw-user"
PASSWORD = "s3cret-Pa55"


@pytest.fixture
async def fresh(module_fs: Path) -> AsyncIterator[Emulator]:
    """A module as from power-on with a locked SIM and a network that requires APN and login."""
    config = EmulatorConfig(
        fs_root=module_fs,
        sim="pin",
        sim_pin=PIN,
        network_apn=APN,
        network_user=USER,
        network_password=PASSWORD,
    )
    async with Emulator(config) as emu:
        yield emu


async def test_options_bring_a_fresh_module_up(
    run_cli: RunCli, fresh: Emulator, origin_server: OriginServer
) -> None:
    url = origin_server.url("/echo")
    device = ["--device", fresh.device]
    result = await run_cli("get", url, *device)
    assert result.status == EXIT_MODEM
    assert result.stderr == (
        "n58aio: error: the SIM asks for its PIN: pass --pin PIN, or set $N58_PIN\n"
    )

    result = await run_cli("get", url, "--pin", PIN, "--apn", APN, *device)
    assert result.status == EXIT_MODEM  # the network also wants the login
    assert "the data link was refused with APN 'm2m.example'" in result.stderr
    assert "(options --apn, --user, --password)" in result.stderr

    argv = ["--log-level", "debug", "get", url, "--apn", APN, "--user", USER]
    result = await run_cli(*argv, "--password", PASSWORD, *device)
    assert result.status == EXIT_OK, result.stderr
    assert b'"target": "/echo"' in result.stdout
    assert PASSWORD not in result.stderr and PASSWORD.encode() not in result.stdout
    assert 'AT+XGAUTH=1,1,"gw-user",' not in result.stderr  # its parameters are redacted


async def test_the_environment_keeps_secrets_out_of_the_command_line(
    run_cli: RunCli, fresh: Emulator, origin_server: OriginServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("N58_PIN", PIN),
        ("N58_APN", APN),
        ("N58_APN_USER", USER),
        ("N58_APN_PASSWORD", PASSWORD),
    ):
        monkeypatch.setenv(name, value)
    device = ["--device", fresh.device]
    result = await run_cli("--log-level", "debug", "head", origin_server.url("/echo"), *device)
    assert result.status == EXIT_OK, result.stderr
    assert result.out.startswith("HTTP/1.1 200")
    for secret in (PIN, PASSWORD):
        assert secret not in result.stderr and secret not in result.out


async def test_help_names_the_variables_never_their_values(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("N58_APN_PASSWORD", PASSWORD)
    monkeypatch.setenv("N58_PIN", PIN)
    result = await run_cli("get", "--help")
    assert result.status == EXIT_OK
    text = " ".join(result.out.split())
    for option, env in (("--pin", "N58_PIN"), ("--password", "N58_APN_PASSWORD")):
        assert option in text and f"${env}" in text
    assert PASSWORD not in result.out and PIN not in result.out


class _SlowModem:
    """Stands in for a Modem whose port has not answered: attach() takes ``delay`` seconds."""

    def __init__(self, delay: float, resyncs: int) -> None:
        self.url = "/dev/ttyUSB7"
        self.channel = types.SimpleNamespace(resyncs=resyncs)
        self.delay = delay
        self.attached: dict[str, Any] = {}

    async def attach(self, **params: Any) -> None:
        await asyncio.sleep(self.delay)
        self.attached = params


@pytest.mark.parametrize(("resyncs", "noticed"), [(0, True), (1, False)])
async def test_a_silent_port_is_noticed_while_the_bring_up_waits(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    resyncs: int,
    noticed: bool,
) -> None:
    monkeypatch.setattr(common, "NOTICE_AFTER", 0.05)
    modem = _SlowModem(0.2, resyncs)
    args = argparse.Namespace(pin=PIN, apn=APN, user=None, password=None)
    await common.attach_from_args(modem, args)  # type: ignore[arg-type]
    assert modem.attached == {"pin": PIN, "apn": APN, "user": None, "password": None}
    err = capsys.readouterr().err
    expected = (
        "n58aio: no answer on /dev/ttyUSB7 yet: waiting up to a minute for the module to boot "
        "(a wrong port or baud rate never answers; Ctrl-C stops)\n"
    )
    assert err == (expected if noticed else "")  # a module that answered is only slow
