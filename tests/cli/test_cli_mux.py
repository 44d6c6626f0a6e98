"""``--mux``: the command line on 27.010 multiplexing."""

from __future__ import annotations

from pathlib import Path

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import RunCli

from n58aio.cli import build_parser
from n58aio.cli.common import EXIT_OK
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes


async def test_get_and_status_with_mux(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    out = tmp_path / "body"
    url = origin_server.url("/bytes/3000")
    result = await run_cli("get", "--mux", "--device", emulator.device, "-o", str(out), url)
    assert result.status == EXIT_OK, result.stderr
    assert out.read_bytes() == pattern_bytes(0, 3000)
    result = await run_cli("status", "--mux", "--device", emulator.device)
    assert result.status == EXIT_OK, result.stderr
    assert "CSQ 24" in result.out
    assert emulator.mux_dlcs is None  # the CLI closed the mux down: AT mode again


def test_mux_flag() -> None:
    parser = build_parser()
    assert parser.parse_args(["at", "--device", "x", "--mux", "AT"]).mux is True
    assert parser.parse_args(["status", "--device", "x"]).mux is False
