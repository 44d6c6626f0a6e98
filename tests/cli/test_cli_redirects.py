"""``n58aio get -L`` and ``download`` of a redirecting URL, as real subprocesses."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import run_module

from n58aio.cli.common import EXIT_MODEM, EXIT_OK, EXIT_USAGE
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes


async def test_get_follows_redirects_with_location_flag(
    emulator: Emulator, origin_server: OriginServer
) -> None:
    url = origin_server.url("/redirect?to=/bytes/12")
    device = ("--device", emulator.device)
    status, out, err = await run_module("get", "-i", url, *device)
    assert status == EXIT_OK, err
    assert out.startswith("HTTP/1.1 302 ")

    status, out, err = await run_module("get", "-L", url, *device)
    assert status == EXIT_OK, err
    assert out.encode("latin-1") == pattern_bytes(0, 12)

    status, out, err = await run_module("get", "-L", "--max-redirs", "0", url, *device)
    assert status == EXIT_MODEM
    assert "max_redirects=0" in err

    status, _, err = await run_module("get", "-L", "--max-redirs", "x", url, *device)
    assert status == EXIT_USAGE
    assert "--max-redirs" in err


async def test_download_of_a_redirect_and_a_refused_port(
    emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "out.bin"
    url = origin_server.url("/redirect?to=/bytes/50000")
    digest = hashlib.sha256(pattern_bytes(0, 50000)).hexdigest()
    status, _, err = await run_module(
        "download", url, str(target), "--sha256", digest, "--no-progress",
        "--device", emulator.device,
    )  # fmt: skip
    assert status == EXIT_OK, err
    assert target.read_bytes() == pattern_bytes(0, 50000)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, err = await run_module(
        "get", f"http://127.0.0.1:{port}/", "--device", emulator.device
    )
    assert status == EXIT_MODEM
    assert f"cannot connect to 127.0.0.1:{port}" in err
