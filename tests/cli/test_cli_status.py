"""``n58aio status``: the module's snapshot, as lines and as JSON."""

from __future__ import annotations

import json

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import RunCli, run_module

from n58aio.cli.common import EXIT_OK
from n58aio.emulator import Emulator


async def test_status_lines(run_cli: RunCli, emulator: Emulator) -> None:
    result = await run_cli("status", "--device", emulator.device)
    assert result.status == EXIT_OK, result.stderr
    fields = dict(
        line.split(None, 1) for line in result.out.replace("data link", "link").splitlines()
    )
    assert fields["signal"] == "-65 dBm (CSQ 24)"
    assert fields["registration"] == "home" and fields["link"] in ("up", "down")
    assert fields["imei"] == f"8658{emulator.ident:011d}"
    assert fields["iccid"] == "89860012345678901234"
    assert fields["operator"] == "EMU NET"


async def test_status_json_subprocess(emulator: Emulator) -> None:
    status, out, err = await run_module("status", "--json", "--device", emulator.device)
    assert status == EXIT_OK, err
    snapshot = json.loads(out)
    assert snapshot["rssi"] == 24 and snapshot["imsi"] == "001010123456789"
    assert set(snapshot) >= {"link_up", "address", "firmware", "signal_dbm"}
