"""ModemPool.download: ranges in parallel over several modems, faults, checks, fallbacks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.pool.download import plan_ranges
from n58aio.transfer import IntegrityError, Progress

FAST: dict[str, Any] = {
    "reopen_backoff": (0.1, 0.5),
    "acquire_timeout": 10.0,
    "check_timeout": 10.0,
    "timeouts": n58aio.Timeouts(connect=5, first_byte=3, idle=2),
}


async def test_download_over_four_paced_modems(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 300_000
    emus = await emulators(4, baud=460_800)
    target = tmp_path / "image.bin"
    reports: list[Progress] = []
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        result = await pool.download(
            origin_server.url(f"/bytes/{size}"),
            target,
            sha256=pattern_sha256(size),
            md5=hashlib.md5(pattern_bytes(0, size)).hexdigest(),
            range_size=64 * 1024,
            progress=reports.append,
        )
    assert target.read_bytes() == pattern_bytes(0, size)
    assert not target.with_name("image.bin.part").exists()
    assert result.size == size
    assert result.sha256 == pattern_sha256(size)
    assert result.md5 == hashlib.md5(pattern_bytes(0, size)).hexdigest()
    # the first range (1 byte) learns the size, the rest is cut finer than 64 KiB: 4 per modem
    assert result.ranges == 1 + 16
    assert result.fetched == size and result.retries == 0
    assert result.requests == result.ranges  # the first byte is kept, not fetched again
    assert sorted(result.bytes_by_modem) == [f"{pool.name}.{n}" for n in range(4)]
    assert sum(result.bytes_by_modem.values()) == size
    assert reports[-1].done == reports[-1].total == size
    ranged = [r for r in origin_server.requests if r.header("range")]
    assert len(ranged) == result.requests


def test_plan_ranges() -> None:
    assert plan_ranges(0, 4, 1000) == []
    assert plan_ranges(10, 4, 1000) == [(0, 10)]  # never below MIN_RANGE_SIZE per range
    assert plan_ranges(10, 4, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]  # range_size wins
    big = plan_ranges(10 * 1024 * 1024, 2, 256 * 1024)
    assert len(big) == 40 and all(end - start == 256 * 1024 for start, end in big)
    spread = plan_ranges(1_000_000, 4, 256 * 1024)
    assert len(spread) == 16 and spread[-1] == (937_500, 1_000_000)
    assert [start for start, _ in spread[1:]] == [end for _, end in spread[:-1]]
    with pytest.raises(n58aio.InvalidValue):
        plan_ranges(10, 1, 0)


async def test_ranges_of_a_failing_modem_move_to_the_others(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 2_000_000
    emus = await emulators(4)
    target = tmp_path / "big.bin"
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        emus[1].faults.after_body_bytes(60_000, lambda: emulators.drop_port(emus[1]))
        emus[2].faults.after_body_bytes(90_000, emus[2].faults.close_link)
        emus[3].faults.after_body_bytes(70_000, emus[3].faults.reset)
        result = await pool.download(
            origin_server.url(f"/bytes/{size}"), target, sha256=pattern_sha256(size)
        )
        stats = pool.stats()
    assert target.read_bytes() == pattern_bytes(0, size)
    assert result.retries >= 3
    assert result.fetched == size  # a failed range went on from where it stopped
    assert stats.modems[1].state in ("quarantined", "reopening")
    assert stats.retries >= 3


async def test_hash_mismatch_deletes_the_partial_file(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    emus = await emulators(2)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "x.bin"
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        with pytest.raises(IntegrityError, match="sha256"):
            await pool.download(origin_server.url("/bytes/50000"), target, sha256="0" * 64)
        with pytest.raises(n58aio.HTTPStatusError):
            await pool.download(origin_server.url("/status/404"), target)
        with pytest.raises(n58aio.InvalidValue):
            await pool.download(origin_server.url("/bytes/5"), target, md5="xyz")
    assert os.listdir(out) == []


async def test_empty_file(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        result = await pool.download(
            origin_server.url("/bytes/0"), tmp_path / "empty", sha256=pattern_sha256(0)
        )
    assert result.size == 0
    assert (tmp_path / "empty").read_bytes() == b""


@pytest.fixture(name="rangeless_url")
async def rangeless_url_fixture() -> AsyncIterator[str]:
    """A server that ignores Range and always sends the whole 40000-byte pattern."""
    body = pattern_bytes(0, 40000)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 40000\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/file"
    server.close()
    await server.wait_closed()


async def test_server_without_ranges_streams_the_whole_file_from_the_first_answer(
    emulators: EmulatorFactory, rangeless_url: str, tmp_path: Path
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        result = await pool.download(rangeless_url, tmp_path / "f", sha256=pattern_sha256(40000))
    assert (tmp_path / "f").read_bytes() == pattern_bytes(0, 40000)
    assert result.ranges == 1
    assert result.requests == 1  # the 200 to the first range is the whole file


async def test_download_with_credentials_in_the_url(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    """Credentials make every ranged GET a custom packet (``Authorization`` and ``Range``)."""
    basic = "Basic " + base64.b64encode(b"alice:pa;ss").decode()
    size = 150_000
    emus = await emulators(2)
    target = tmp_path / "auth.bin"
    url = f"http://alice:pa%3Bss@127.0.0.1:{origin_server.port}/bytes/{size}"
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        result = await pool.download(url, target, sha256=pattern_sha256(size), range_size=32 * 1024)
    assert target.read_bytes() == pattern_bytes(0, size)
    assert result.size == size and result.retries == 0
    seen = [r for r in origin_server.requests if r.path == f"/bytes/{size}"]
    assert len(seen) == result.requests == result.ranges
    assert all(r.header("authorization") == basic for r in seen)
    assert seen[0].header("range") == "bytes=0-0"  # the first range, alone
    starts = sorted(int((r.header("range") or "=-").split("=")[1].split("-")[0]) for r in seen)
    assert starts[:2] == [0, 1] and len(starts) == result.ranges


async def test_download_into_a_fifo_over_two_modems(
    emulators: EmulatorFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    """Ranges arrive out of order from two modems; a FIFO target (``/dev/null`` alike) gets the
    verified whole in order, in place: no ``.part`` or sidecar beside it, and it stays a FIFO."""
    size = 200_000
    folder = tmp_path / "out"
    folder.mkdir()
    pipe = folder / "pipe"
    os.mkfifo(pipe)
    received = bytearray()

    def read() -> None:
        with pipe.open("rb") as source:  # blocks until the download opens it
            while block := source.read(65536):
                received.extend(block)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        emus = await emulators(2)
        async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
            result = await pool.download(
                origin_server.url(f"/bytes/{size}"),
                pipe,
                sha256=pattern_sha256(size),
                range_size=32 * 1024,
            )
        await asyncio.to_thread(reader.join, 10)
    finally:
        if reader.is_alive():  # let a reader still waiting for a writer go
            with contextlib.suppress(OSError):
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(5)
    assert bytes(received) == pattern_bytes(0, size)
    assert result.ranges > 2 and len(result.bytes_by_modem) == 2
    assert os.listdir(folder) == ["pipe"] and stat.S_ISFIFO(pipe.stat().st_mode)
