"""Downloads and module file reads into a path that is not a regular file: written in place.

A temporary file renamed onto ``/dev/null`` replaced the device with a regular file (run as
root, everything later redirected to /dev/null filled it). A device or FIFO target is staged in
an anonymous temporary file and written into once verified; a regular file keeps the atomic
``.part`` + rename.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from transfer_fixtures import *  # noqa: F403  (fixtures)
from transfer_helpers import FAST, ModemFactory

import n58aio
from n58aio import IntegrityError
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.transfer import localfile
from n58aio.transfer.localfile import atomic_output, writes_in_place

DEV_NULL = Path("/dev/null")


def _is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)


@pytest.fixture
def dev_null() -> Iterator[Path]:
    """``/dev/null``, checked to be a character device before and after the test; should the
    test have replaced it, it is made again (as root) so that the machine keeps working."""
    if not _is_char_device(DEV_NULL):
        pytest.fail("/dev/null is not a character device before the test")
    siblings = {p.name for p in DEV_NULL.parent.iterdir() if p.name.startswith("null")}
    yield DEV_NULL
    broken = not _is_char_device(DEV_NULL)
    if broken:
        DEV_NULL.unlink()
        os.mknod(DEV_NULL, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.chmod(DEV_NULL, 0o666)
    for leftover in {p.name for p in DEV_NULL.parent.iterdir() if p.name.startswith("null")}:
        if leftover not in siblings:
            (DEV_NULL.parent / leftover).unlink()
            pytest.fail(f"/dev/{leftover} was left beside /dev/null")
    assert not broken, "/dev/null was replaced by a regular file (restored)"


class FifoReader:
    """A FIFO in ``folder`` read to its end by a thread (the writer's open waits for it)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "pipe"
        os.mkfifo(self.path)
        self.received = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self.path.open("rb") as pipe:  # blocks until a writer opens it
            while block := pipe.read(65536):
                self.received += block

    async def wait(self) -> bytes:
        await asyncio.to_thread(self._thread.join, 10)
        assert not self._thread.is_alive(), "the FIFO's reader never saw the end"
        return bytes(self.received)

    def release(self) -> None:
        """Let a reader still waiting for a writer go (after a failure), then join it."""
        if self._thread.is_alive():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                pass
            else:
                os.close(fd)
            self._thread.join(5)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[FifoReader]:
    (tmp_path / "out").mkdir()
    reader = FifoReader(tmp_path / "out")
    yield reader
    reader.release()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_download_into_a_fifo_writes_through_it(
    make_modem: ModemFactory, origin_server: OriginServer, fifo: FifoReader, tmp_path: Path
) -> None:
    size = 300_000
    _, modem = await make_modem(config=FAST)
    async with asyncio.timeout(60):
        result = await modem.download(
            origin_server.url(f"/bytes/{size}"),
            fifo.path,
            sha256=pattern_sha256(size),
            range_size=64 * 1024,
        )
        received = await fifo.wait()
    assert received == pattern_bytes(0, size)
    assert (result.path, result.size, result.sha256) == (fifo.path, size, pattern_sha256(size))
    assert stat.S_ISFIFO(fifo.path.stat().st_mode)
    assert _names(fifo.path.parent) == ["pipe"]  # no .part, no sidecar beside it


async def test_download_into_dev_null_leaves_the_device(
    make_modem: ModemFactory, origin_server: OriginServer, dev_null: Path
) -> None:
    _, modem = await make_modem(config=FAST)
    async with asyncio.timeout(60):
        result = await modem.download(
            origin_server.url("/bytes/100000"), dev_null, sha256=pattern_sha256(100_000)
        )
        again = await modem.download(origin_server.url("/bytes/1000"), dev_null)
    assert _is_char_device(dev_null)
    assert (result.size, result.resumed_from, result.fetched) == (100_000, 0, 100_000)
    assert (again.size, again.sha256) == (1000, pattern_sha256(1000))


async def test_a_failed_download_writes_nothing_into_the_fifo(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    pipe = folder / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _, modem = await make_modem()
        async with asyncio.timeout(60):
            with pytest.raises(IntegrityError, match="sha256"):
                await modem.download(origin_server.url("/bytes/5000"), pipe, sha256="0" * 64)
            with pytest.raises(n58aio.HTTPStatusError):
                await modem.download(origin_server.url("/status/404"), pipe)
        assert os.read(reader, 65536) == b""  # no writer ever opened it: nothing unverified
    finally:
        os.close(reader)
    assert _names(folder) == ["pipe"]


async def test_a_directory_is_refused_before_anything_is_sent(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    _, modem = await make_modem()
    with pytest.raises(n58aio.InvalidValue, match="is a directory"):
        await modem.download(origin_server.url("/bytes/10"), tmp_path)
    assert not [r for r in origin_server.requests if r.target.startswith("/bytes")]
    with pytest.raises(n58aio.InvalidValue, match="is a directory"):
        await modem.files.read_to("ca.pem", tmp_path)


async def test_read_to_a_fifo_and_to_dev_null(
    make_modem: ModemFactory, fifo: FifoReader, dev_null: Path
) -> None:
    emulator, modem = await make_modem(attach=False)
    data = pattern_bytes(3, 10_000)
    (emulator.fs_root / "f.bin").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    async with asyncio.timeout(30):
        emulator.faults.swap_next_read()  # the first copy differs: read again, staged
        result = await modem.files.read_to("f.bin", fifo.path, sha256=digest)
        assert await fifo.wait() == data  # only the verified copy went through
        assert (result.path, result.sha256) == (fifo.path, digest)
        devnull = await modem.files.read_to("f.bin", dev_null, sha256=digest)
    assert _is_char_device(dev_null) and devnull.size == len(data)
    assert stat.S_ISFIFO(fifo.path.stat().st_mode)
    assert _names(fifo.path.parent) == ["pipe"]


def test_the_helper_tells_regular_files_from_the_rest(tmp_path: Path, dev_null: Path) -> None:
    regular = tmp_path / "f"
    assert not writes_in_place(regular)  # missing: created by rename
    regular.write_bytes(b"old")
    assert not writes_in_place(regular)
    link = tmp_path / "to-null"
    link.symlink_to(dev_null)
    assert writes_in_place(dev_null) and writes_in_place(link)
    with pytest.raises(n58aio.InvalidValue):
        writes_in_place(tmp_path)
    with pytest.raises(RuntimeError), atomic_output(regular) as out:
        out.write(b"new")
        raise RuntimeError  # a failure leaves the old file alone
    assert regular.read_bytes() == b"old"
    with atomic_output(link) as out:
        out.write(b"gone")
    assert link.is_symlink() and _is_char_device(dev_null)
    assert _names(tmp_path) == ["f", "to-null"]


async def test_a_fifo_without_a_reader_waits_and_can_be_cancelled(
    make_modem: ModemFactory,
    origin_server: OriginServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The open of a FIFO nobody reads is retried on the event loop, not blocked in a thread
    that a cancellation could not stop."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    waiting = asyncio.Event()
    original = localfile._open_in_place

    def spied(path: Path) -> int | None:
        out = original(path)
        if out is None:
            waiting.set()
        return out

    monkeypatch.setattr(localfile, "_open_in_place", spied)
    _, modem = await make_modem()
    task = asyncio.ensure_future(modem.download(origin_server.url("/bytes/1000"), pipe))
    async with asyncio.timeout(60):
        await waiting.wait()  # downloaded and verified, waiting for a reader
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert _names(tmp_path) == ["module-fs", "pipe"]
