"""Modem.download and ModemPool.download are one engine: the same faults end the same way.

Each case runs through the emulator once with a modem (one worker) and once with a pool of two
(two workers): a server that refuses ranges part-way, a server without ranges whose answer is
cut, a download killed under one and resumed under the other (they share the sidecar), and a
digest mismatch.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio import IntegrityError, Progress, RangeMismatchError
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256

SIZE = 100_000
RANGE = 16 * 1024
CONTENT = pattern_bytes(0, SIZE)
FAST: dict[str, Any] = {
    "reopen_backoff": (0.1, 0.5),
    "acquire_timeout": 10.0,
    "check_timeout": 10.0,
    "timeouts": n58aio.Timeouts(connect=5, first_byte=3, idle=2),
}
_RANGE = re.compile(r"bytes=(\d+)-(\d+)", re.I)

Download = Callable[..., Coroutine[Any, Any, n58aio.DownloadResult]]


class RefusingOrigin:
    """Serves :data:`CONTENT` with ranges, but answers 200 (the whole file) to a range that
    starts at or after ``refuse_from`` (None: never), as a server that lost range support."""

    def __init__(self) -> None:
        self.refuse_from: int | None = None
        self.cut_once = False  # the next answer stops half-way through its body
        self.starts: list[int] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        match = _RANGE.search(head)
        first, last = (int(match[1]), int(match[2])) if match else (0, SIZE - 1)
        self.starts.append(first)
        if match is None or (self.refuse_from is not None and first >= self.refuse_from):
            status, extra, body = "200 OK", "", CONTENT
        else:
            last = min(last, SIZE - 1)
            body = CONTENT[first : last + 1]
            status, extra = "206 Partial Content", f"Content-Range: bytes {first}-{last}/{SIZE}\r\n"
        writer.write(
            f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(body)}\r\n"
            'ETag: "v1"\r\nConnection: close\r\n\r\n'.encode()
            + (body[: len(body) // 2] if self.cut_once else body)
        )
        self.cut_once = False
        await writer.drain()
        writer.close()


@pytest.fixture(name="refusing")
async def refusing_fixture() -> AsyncIterator[RefusingOrigin]:
    origin = RefusingOrigin()
    server = await asyncio.start_server(origin.handle, "127.0.0.1", 0)
    origin.port = server.sockets[0].getsockname()[1]
    yield origin
    server.close()
    await server.wait_closed()


@pytest.fixture(name="downloader")
async def downloader_fixture(
    emulators: EmulatorFactory,
) -> AsyncIterator[Callable[[str], Awaitable[Download]]]:
    """``download = await downloader("modem" | "pool")``: Modem.download on one emulator, or
    ModemPool.download over two."""
    opened: list[Any] = []

    async def make(kind: str) -> Download:
        if kind == "modem":
            (emu,) = await emulators(1)
            context = n58aio.open_modem(emu.device)
            modem: n58aio.Modem = await context.__aenter__()
            opened.append(context)
            await modem.attach()
            return modem.download
        pool = n58aio.ModemPool(emulators.urls(await emulators(2)), **FAST)
        await pool.__aenter__()
        opened.append(pool)
        return pool.download

    yield make
    for context in reversed(opened):
        await context.__aexit__(None, None, None)


def leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(target.name))


@pytest.mark.parametrize("kind", ["modem", "pool"])
async def test_ranges_refused_part_way_keep_the_prefix_then_resume(
    kind: str,
    downloader: Callable[[str], Awaitable[Download]],
    refusing: RefusingOrigin,
    tmp_path: Path,
) -> None:
    download = await downloader(kind)
    target = tmp_path / "file.bin"
    url = f"http://127.0.0.1:{refusing.port}/file.bin"
    refusing.refuse_from = 3 * RANGE
    async with asyncio.timeout(20):
        with pytest.raises(RangeMismatchError, match="does not support ranges"):
            await download(url, target, range_size=RANGE)
    assert leftovers(target) == ["file.bin.part", "file.bin.part.json"]
    verified = json.loads((tmp_path / "file.bin.part.json").read_text())["verified"]
    assert 0 < verified <= 3 * RANGE + 1  # a pool's ranges start at 1 (its first is 1 byte)
    assert (tmp_path / "file.bin.part").read_bytes() == CONTENT[:verified]

    refusing.refuse_from = None
    refusing.starts.clear()
    async with asyncio.timeout(20):
        result = await download(url, target, range_size=RANGE, sha256=pattern_sha256(SIZE))
    assert target.read_bytes() == CONTENT
    assert leftovers(target) == ["file.bin"]
    assert (result.resumed_from, result.fetched) == (verified, SIZE - verified)
    assert min(refusing.starts) == verified  # nothing before the prefix was asked again
    assert result.retries == 0


@pytest.mark.parametrize("kind", ["modem", "pool"])
async def test_whole_file_fallback_starts_over_after_a_cut(
    kind: str,
    downloader: Callable[[str], Awaitable[Download]],
    refusing: RefusingOrigin,
    tmp_path: Path,
) -> None:
    """A server without ranges: the 200 to the first range is the file; cut half-way, it is
    asked for again from byte 0 (there is no other way) and hashed from the start."""
    download = await downloader(kind)
    target = tmp_path / "whole.bin"
    refusing.refuse_from = 0
    refusing.cut_once = True
    async with asyncio.timeout(20):
        result = await download(
            f"http://127.0.0.1:{refusing.port}/whole.bin",
            target,
            range_size=RANGE,
            sha256=pattern_sha256(SIZE),
            backoff=0.05,
        )
    assert target.read_bytes() == CONTENT
    assert refusing.starts == [0, 0]
    assert (result.requests, result.retries, result.size) == (2, 1, SIZE)
    assert result.fetched == SIZE // 2 + SIZE
    assert leftovers(target) == ["whole.bin"]


@pytest.mark.parametrize(("first", "second"), [("modem", "pool"), ("pool", "modem")])
async def test_killed_under_one_resumes_under_the_other(
    first: str,
    second: str,
    downloader: Callable[[str], Awaitable[Download]],
    origin_server: OriginServer,
    tmp_path: Path,
) -> None:
    size = 600_000
    url = origin_server.url(f"/bytes/{size}?drip=0.002&chunk=4096")
    target = tmp_path / "killed.bin"
    task: asyncio.Task[n58aio.DownloadResult] | None = None

    def kill_at_a_third(progress: Progress) -> None:
        if progress.done >= size // 3 and task is not None and not task.cancelling():
            task.cancel()

    start = await downloader(first)
    task = asyncio.create_task(start(url, target, range_size=RANGE, progress=kill_at_a_third))
    async with asyncio.timeout(30):
        with pytest.raises(asyncio.CancelledError):
            await task
    verified = json.loads((tmp_path / "killed.bin.part.json").read_text())["verified"]
    assert 0 < verified < size
    assert (tmp_path / "killed.bin.part").read_bytes() == pattern_bytes(0, verified)

    resume = await downloader(second)
    async with asyncio.timeout(30):
        result = await resume(url, target, range_size=RANGE, sha256=pattern_sha256(size))
    assert result.resumed_from == verified
    assert result.fetched == size - verified
    assert target.read_bytes() == pattern_bytes(0, size)
    assert leftovers(target) == ["killed.bin"]


@pytest.mark.parametrize("kind", ["modem", "pool"])
async def test_digest_mismatch_leaves_nothing(
    kind: str,
    downloader: Callable[[str], Awaitable[Download]],
    origin_server: OriginServer,
    tmp_path: Path,
) -> None:
    download = await downloader(kind)
    target = tmp_path / "bad.bin"
    async with asyncio.timeout(20):
        with pytest.raises(IntegrityError, match="sha256") as caught:
            await download(
                origin_server.url(f"/bytes/{SIZE}"), target, range_size=RANGE, sha256="0" * 64
            )
    assert caught.value.actual == pattern_sha256(SIZE)  # hashed while streaming, all of it
    assert leftovers(target) == []
