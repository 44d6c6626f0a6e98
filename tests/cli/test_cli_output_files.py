"""``get -o FILE`` writes a temporary file renamed on success (a device or a FIFO: in place);
``download`` of an answer it cannot use leaves no partial files (``python -m n58aio`` as a real
subprocess)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import run_module

from n58aio.cli.common import EXIT_HTTP, EXIT_MODEM, EXIT_OK, EXIT_TRANSFER
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_get_output_replaces_the_file_only_on_success(
    emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "body.bin"
    target.write_bytes(b"the previous version")
    emulator.faults.after_body_bytes(20_000, emulator.faults.close_link)
    status, _, err = await run_module(
        "get", origin_server.url("/bytes/100000"), "-o", str(target), "-d", emulator.device
    )
    assert status == EXIT_MODEM, err
    assert "LinkClosedError" in err
    assert target.read_bytes() == b"the previous version"
    assert _names(tmp_path) == ["body.bin", "module-fs"]

    status, _, err = await run_module(
        "get", origin_server.url("/bytes/50000"), "-o", str(target), "-d", emulator.device
    )
    assert status == EXIT_OK, err
    assert target.read_bytes() == pattern_bytes(0, 50000)
    assert _names(tmp_path) == ["body.bin", "module-fs"]


async def test_download_of_a_redirect_or_a_404_leaves_nothing(
    emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "f.bin"
    device = ["-d", emulator.device]
    status, _, err = await run_module(
        "download", origin_server.url("/status/404"), str(target), *device
    )
    assert status == EXIT_HTTP, err
    assert _names(tmp_path) == ["module-fs"]

    redirect = origin_server.url("/redirect?to=/bytes/10")
    status, _, err = await run_module("download", redirect, str(target), *device)
    # the lead's redirect following (item 7) may turn this into a success: either way, no
    # partial files stay behind
    assert status in (EXIT_OK, EXIT_TRANSFER), err
    names = _names(tmp_path)
    assert names == (["f.bin", "module-fs"] if status == EXIT_OK else ["module-fs"])


async def test_get_output_to_a_fifo_writes_through_it(
    emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    """``-o`` a path that is no regular file (``-o /dev/null``) writes to it: a temporary file
    renamed onto it would replace it (as root, the machine's /dev/null became a file)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the writer's open() then succeeds
    received = bytearray()
    running = asyncio.ensure_future(
        run_module("get", origin_server.url("/bytes/30000"), "-o", str(fifo), "-d", emulator.device)
    )
    try:
        while True:
            try:
                data = os.read(reader, 65536)
            except BlockingIOError:  # a writer holds it open: more to come
                data = None
            if data:
                received += data
            elif running.done():
                break
            else:  # nothing yet, or no writer (yet, or any more)
                await asyncio.sleep(0.01)
    finally:
        os.close(reader)
        status, _, err = await running
    assert status == EXIT_OK, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert bytes(received) == pattern_bytes(0, 30000)
    assert _names(tmp_path) == ["module-fs", "pipe"]
