"""Downloads to local files through the emulator: ranges, hashes, misbehaving servers, resuming."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import itertools
import json
import math
import shutil
import time
from pathlib import Path

import pytest
import structlog
from transfer_fixtures import *  # noqa: F403  (fixtures)
from transfer_helpers import (
    FAST,
    Answer,
    ModemFactory,
    Range,
    ScriptedOrigin,
    leftovers,
    ranged,
    requested_ranges,
)

import n58aio
from n58aio import IntegrityError, Progress, RangeMismatchError
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.transfer import DEFAULT_RANGE_SIZE

# the package exports the function under the module's name: take the module itself
engine_module = importlib.import_module("n58aio.transfer.engine")

SIZE = 3_000_000
CONTENT = pattern_bytes(0, 100_000)


@pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])
async def test_download_is_byte_identical_and_verified(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode, config=FAST)
    content = pattern_bytes(0, SIZE)
    sha256 = hashlib.sha256(content).hexdigest()
    md5 = hashlib.md5(content).hexdigest()
    target = tmp_path / "big.bin"
    seen: list[tuple[float, Progress]] = []
    started = time.monotonic()
    async with asyncio.timeout(60):
        result = await modem.download(
            origin_server.url(f"/bytes/{SIZE}"),
            target,
            sha256=sha256,
            md5=md5.upper(),
            progress=lambda p: seen.append((time.monotonic(), p)),
        )
    elapsed = time.monotonic() - started
    assert target.read_bytes() == content
    assert leftovers(target) == []
    assert (result.path, result.size, result.sha256, result.md5) == (target, SIZE, sha256, md5)
    assert (result.resumed_from, result.fetched, result.retries) == (0, SIZE, 0)

    ranges = requested_ranges(origin_server, f"/bytes/{SIZE}")
    assert ranges[0] == (0, DEFAULT_RANGE_SIZE - 1)
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert ranges[-1][1] == SIZE - 1
    assert result.requests == len(ranges) == math.ceil(SIZE / DEFAULT_RANGE_SIZE)

    progress = [p for _, p in seen]
    assert progress[-1].done == progress[-1].total == SIZE
    assert progress[-1].fraction == 1.0
    assert all(p.total == SIZE for p in progress)
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    assert all(p.rate >= 0 for p in progress) and progress[-1].rate > 0
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(seen)]
    assert all(gap >= 0.095 for gap in gaps[:-1])  # the last one is the forced final report
    assert len(seen) <= elapsed / 0.1 + 2


async def test_download_over_a_kept_alive_link(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    _, modem = await make_modem(keepalive=True, config=FAST)
    target = tmp_path / "kept.bin"
    async with asyncio.timeout(60):
        result = await modem.download(
            origin_server.url("/bytes/2000000"), target, sha256=pattern_sha256(2_000_000)
        )
    assert result.requests == 8
    assert origin_server.connections_opened == 1  # every range on the same connection
    assert target.read_bytes() == pattern_bytes(0, 2_000_000)


async def test_async_progress_callback_and_small_ranges(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    seen: list[Progress] = []

    async def report(progress: Progress) -> None:
        await asyncio.sleep(0)
        seen.append(progress)

    target = tmp_path / "small.bin"
    async with asyncio.timeout(30):
        result = await modem.download(
            origin_server.url("/bytes/50000"), target, range_size=16384, progress=report
        )
    assert target.read_bytes() == pattern_bytes(0, 50000)
    assert result.requests == 4
    assert seen and seen[-1] == Progress(50000, 50000, seen[-1].rate)


async def test_hash_mismatch_leaves_nothing_behind(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    url = origin_server.url("/bytes/70000")
    target = tmp_path / "x.bin"
    async with asyncio.timeout(30):
        with pytest.raises(IntegrityError) as caught:
            await modem.download(url, target, sha256="0" * 64)
    assert isinstance(caught.value, n58aio.TransferError)
    assert caught.value.algorithm == "sha256"
    assert caught.value.actual == pattern_sha256(70000)
    assert not target.exists()
    assert leftovers(target) == []

    target.write_bytes(b"an older version")
    good_sha = pattern_sha256(70000)
    async with asyncio.timeout(30):
        with pytest.raises(IntegrityError) as md5_error:
            await modem.download(url, target, sha256=good_sha, md5="f" * 32)
    assert md5_error.value.algorithm == "md5"
    assert md5_error.value.actual == hashlib.md5(pattern_bytes(0, 70000)).hexdigest()
    assert target.read_bytes() == b"an older version"  # never replaced by a bad file
    assert leftovers(target) == []
    # and the modem is fine for the next one
    async with asyncio.timeout(30):
        await modem.download(url, target, sha256=good_sha)
    assert target.read_bytes() == pattern_bytes(0, 70000)


async def test_invalid_arguments_are_refused_before_anything_is_sent(
    modem: n58aio.Modem, tmp_path: Path
) -> None:
    written = modem.channel.bytes_written
    target = tmp_path / "out" / "never.bin"
    target.parent.mkdir()
    url = "http://origin.test/bytes/10"
    bad: list[dict[str, object]] = [
        {"sha256": "abc"},
        {"sha256": "g" * 64},
        {"md5": "0" * 31},
        {"range_size": 0},
        {"retries": -1},
    ]
    for options in bad:
        with pytest.raises(n58aio.InvalidValue):
            await modem.download(url, target, **options)  # type: ignore[arg-type]
    with pytest.raises(n58aio.InvalidValue):
        await modem.download("ftp://origin.test/x", target)
    assert modem.channel.bytes_written == written
    assert list(target.parent.iterdir()) == []


async def test_empty_file(modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path) -> None:
    target = tmp_path / "empty.bin"
    async with asyncio.timeout(30):
        result = await modem.download(
            origin_server.url("/bytes/0"), target, sha256=hashlib.sha256(b"").hexdigest()
        )
    assert target.read_bytes() == b""
    assert result.size == 0
    assert leftovers(target) == []


async def test_error_status_is_not_retried(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "missing.bin"
    async with asyncio.timeout(30):
        with pytest.raises(n58aio.HTTPStatusError) as caught:
            await modem.download(origin_server.url("/status/404"), target, backoff=0)
    assert caught.value.status_code == 404
    assert len(origin_server.requests) == 1
    assert not target.exists()


async def test_server_busy_is_retried(modem: n58aio.Modem, tmp_path: Path) -> None:
    def handler(index: int, rng: Range) -> Answer:
        if index < 2:
            return 503, [("Retry-After", "1")], b"busy"
        return ranged(CONTENT, rng)

    target = tmp_path / "busy.bin"
    async with ScriptedOrigin(handler) as server, asyncio.timeout(30):
        result = await modem.download(server.url(), target, range_size=40000, backoff=0.01)
    assert target.read_bytes() == CONTENT
    assert result.retries == 2
    assert server.ranges[:3] == [(0, 39999)] * 3


async def test_gives_up_after_the_retries_and_keeps_the_verified_part(
    modem: n58aio.Modem, tmp_path: Path
) -> None:
    def handler(index: int, rng: Range) -> Answer:
        return (503, [], b"busy") if index >= 2 else ranged(CONTENT, rng)

    target = tmp_path / "flaky.bin"
    async with ScriptedOrigin(handler) as server, asyncio.timeout(30):
        with pytest.raises(n58aio.TransferError, match="gave up at byte 60000") as caught:
            await modem.download(server.url(), target, range_size=30000, retries=3, backoff=0)
    assert isinstance(caught.value.__cause__, n58aio.HTTPStatusError)
    assert len(server.ranges) == 2 + 4  # two good ranges, then 1 + 3 retries
    assert leftovers(target) == ["flaky.bin.part", "flaky.bin.part.json"]
    record = json.loads((tmp_path / "flaky.bin.part.json").read_text())
    assert record["verified"] == 60000
    assert (tmp_path / "flaky.bin.part").read_bytes() == CONTENT[:60000]


async def test_wrong_content_range_is_detected_then_resumed(
    modem: n58aio.Modem, tmp_path: Path
) -> None:
    lie = {"on": True}

    def handler(index: int, rng: Range) -> Answer:
        return ranged(CONTENT, rng, shift=1 if lie["on"] and index == 2 else 0)

    target = tmp_path / "shifted.bin"
    async with ScriptedOrigin(handler) as server:
        async with asyncio.timeout(30):
            with pytest.raises(RangeMismatchError, match=r"asked for bytes 60000-89999, got 60001"):
                await modem.download(server.url(), target, range_size=30000)
        assert len(server.ranges) == 3  # not retried
        assert not target.exists()
        assert json.loads((tmp_path / "shifted.bin.part.json").read_text())["verified"] == 60000
        lie["on"] = False
        async with asyncio.timeout(30):
            result = await modem.download(server.url(), target, range_size=30000)
    assert target.read_bytes() == CONTENT
    assert result.resumed_from == 60000
    assert server.ranges[3:] == [(60000, 89999), (90000, 99999)]
    assert leftovers(target) == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda rng: (206, [], CONTENT[:30000]), "without a usable Content-Range"),
        (lambda rng: (206, [("Content-Range", "bytes 0-29999/*")], b""), "did not give the size"),
        (lambda rng: ranged(CONTENT, (0, 29999)), "asked for bytes 30000-59999, got 0-29999"),
        (lambda rng: (200, [], CONTENT), "does not support ranges"),
    ],
    ids=["no-content-range", "unknown-size", "wrong-range", "200-for-offset"],
)
async def test_bad_answers_to_a_second_range(
    modem: n58aio.Modem,
    tmp_path: Path,
    answer: object,
    message: str,
) -> None:
    def handler(index: int, rng: Range) -> Answer:
        if index == 0:
            return ranged(CONTENT, rng)
        assert callable(answer)
        result: Answer = answer(rng)
        return result

    target = tmp_path / "bad.bin"
    async with ScriptedOrigin(handler) as server, asyncio.timeout(30):
        with pytest.raises(RangeMismatchError, match=message):
            await modem.download(server.url(), target, range_size=30000)
    assert not target.exists()


async def test_resource_changing_during_the_download_is_detected(
    modem: n58aio.Modem, tmp_path: Path
) -> None:
    def handler(index: int, rng: Range) -> Answer:
        return ranged(CONTENT, rng, total=len(CONTENT) + (index >= 1))

    target = tmp_path / "moving.bin"
    async with ScriptedOrigin(handler) as server, asyncio.timeout(30):
        with pytest.raises(RangeMismatchError, match="changed on the server"):
            await modem.download(server.url(), target, range_size=30000)
    assert leftovers(target) == []  # the prefix of another version is useless
    assert not target.exists()

    def etag_handler(index: int, rng: Range) -> Answer:
        status, headers, body = ranged(CONTENT, rng)
        return status, [*headers, ("ETag", f'"v{min(index, 1)}"')], body

    async with ScriptedOrigin(etag_handler) as server, asyncio.timeout(30):
        with pytest.raises(RangeMismatchError, match="ETag"):
            await modem.download(server.url(), target, range_size=30000)
    assert leftovers(target) == []


async def test_server_without_range_support_gives_the_whole_file(
    modem: n58aio.Modem, tmp_path: Path
) -> None:
    async with ScriptedOrigin(lambda index, rng: (200, [], CONTENT)) as server:
        target = tmp_path / "whole.bin"
        async with asyncio.timeout(30):
            result = await modem.download(server.url(), target, range_size=30000)
    assert target.read_bytes() == CONTENT
    assert result.requests == 1
    assert server.ranges == [(0, 29999)]


# ---------------------------------------------------------------------- resuming


async def test_cancelled_download_resumes_where_it_stopped(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    _, modem = await make_modem(config=FAST)
    size = 6_000_000
    url = origin_server.url(f"/bytes/{size}?drip=0.002&chunk=16384")  # about 1 s
    target = tmp_path / "resume.bin"
    task: asyncio.Task[n58aio.DownloadResult] | None = None

    def stop_halfway(progress: Progress) -> None:
        if progress.done >= size // 2 and task is not None:
            task.cancel()

    task = asyncio.create_task(
        modem.download(url, target, range_size=500_000, progress=stop_halfway)
    )
    async with asyncio.timeout(30):
        with pytest.raises(asyncio.CancelledError):
            await task
    record = json.loads((tmp_path / "resume.bin.part.json").read_text())
    verified = record["verified"]
    assert size // 2 - 500_000 <= verified < size - 500_000
    assert verified % 500_000 == 0
    assert record["total"] == size
    assert record["sha256_prefix"] == hashlib.sha256(pattern_bytes(0, verified)).hexdigest()
    assert (tmp_path / "resume.bin.part").stat().st_size == verified
    assert not target.exists()

    before = len(origin_server.requests)
    async with asyncio.timeout(30):
        result = await modem.download(url, target, range_size=500_000, sha256=pattern_sha256(size))
    assert result.resumed_from == verified
    assert result.fetched == size - verified
    later = [r.header("range") for r in origin_server.requests[before:]]
    assert later[0] == f"bytes={verified}-{verified + 499_999}"
    assert len(later) == (size - verified) // 500_000
    assert target.read_bytes() == pattern_bytes(0, size)
    assert leftovers(target) == []


async def test_killed_process_state_resumes_from_the_last_checkpoint(
    make_modem: ModemFactory,
    origin_server: OriginServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kill leaves a sidecar from the last checkpoint and a .part with more (unverified)
    bytes after it: the next call must take the checkpoint, not the file length."""
    monkeypatch.setattr(engine_module, "CHECKPOINT_INTERVAL", 0.0)  # after every range
    _, modem = await make_modem(config=FAST)
    size = 4_000_000
    url = origin_server.url(f"/bytes/{size}?drip=0.002&chunk=16384")
    target = tmp_path / "killed.bin"
    part, sidecar = tmp_path / "killed.bin.part", tmp_path / "killed.bin.part.json"
    saved = tmp_path / "saved"
    saved.mkdir()
    task: asyncio.Task[n58aio.DownloadResult] | None = None

    def snapshot_then_stop(progress: Progress) -> None:
        if progress.done >= size * 0.6 and task is not None and not task.cancelling():
            shutil.copy(sidecar, saved / sidecar.name)
            shutil.copy(part, saved / part.name)
            task.cancel()

    task = asyncio.create_task(
        modem.download(url, target, range_size=300_000, progress=snapshot_then_stop)
    )
    async with asyncio.timeout(30):
        with pytest.raises(asyncio.CancelledError):
            await task
    shutil.copy(saved / sidecar.name, sidecar)
    shutil.copy(saved / part.name, part)
    verified = json.loads(sidecar.read_text())["verified"]
    assert 0 < verified < size
    with part.open("ab") as tail:
        tail.write(b"\x00garbage written after the checkpoint" * 100)
    assert part.stat().st_size > verified

    async with asyncio.timeout(30):
        result = await modem.download(url, target, range_size=300_000, sha256=pattern_sha256(size))
    assert result.resumed_from == verified
    assert target.read_bytes() == pattern_bytes(0, size)


async def test_resume_refuses_a_corrupt_prefix_or_another_url(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 200_000
    url = origin_server.url(f"/bytes/{size}")
    target = tmp_path / "c.bin"
    part, sidecar = tmp_path / "c.bin.part", tmp_path / "c.bin.part.json"

    def make_partial(verified: int, for_url: str) -> None:
        part.write_bytes(pattern_bytes(0, verified))
        record = {
            "version": 1,
            "url": for_url,
            "total": size,
            "etag": None,
            "last_modified": None,
            "verified": verified,
            "range_size": 50_000,
            "sha256_prefix": hashlib.sha256(pattern_bytes(0, verified)).hexdigest(),
        }
        sidecar.write_text(json.dumps(record))

    # a good partial state is taken
    make_partial(100_000, url)
    async with asyncio.timeout(30):
        result = await modem.download(url, target, range_size=50_000)
    assert (result.resumed_from, result.fetched) == (100_000, 100_000)
    assert target.read_bytes() == pattern_bytes(0, size)

    # one flipped byte in the prefix: everything is fetched again
    make_partial(100_000, url)
    with part.open("r+b") as f:
        f.seek(1234)
        f.write(b"\xff")
    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(30):
            result = await modem.download(url, target, range_size=50_000)
    assert (result.resumed_from, result.fetched) == (0, size)
    assert target.read_bytes() == pattern_bytes(0, size)
    rejected = [e for e in logs if e["event"] == "download.resume_rejected"]
    assert rejected and rejected[0]["reason"] == "prefix hash differs"

    # a sidecar of another URL is not used
    make_partial(100_000, origin_server.url("/bytes/999"))
    async with asyncio.timeout(30):
        result = await modem.download(url, target, range_size=50_000)
    assert (result.resumed_from, result.fetched) == (0, size)

    # a .part shorter than the record says is not used either
    make_partial(100_000, url)
    with part.open("r+b") as f:
        f.truncate(99_999)
    async with asyncio.timeout(30):
        result = await modem.download(url, target, range_size=50_000)
    assert result.resumed_from == 0
    assert target.read_bytes() == pattern_bytes(0, size)


async def test_resume_after_the_file_changed_on_the_server_starts_over(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, tmp_path: Path
) -> None:
    first, second = pattern_bytes(0, 300_000), pattern_bytes(7, 250_000)
    (files_dir / "fw.bin").write_bytes(first)
    url = files_origin.url("/files/fw.bin?drip=0.01&chunk=8192")  # about 0.4 s
    target = tmp_path / "fw.bin"
    task: asyncio.Task[n58aio.DownloadResult] | None = None

    def stop(progress: Progress) -> None:
        if progress.done >= 150_000 and task is not None:
            task.cancel()

    task = asyncio.create_task(modem.download(url, target, range_size=50_000, progress=stop))
    async with asyncio.timeout(30):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert json.loads((tmp_path / "fw.bin.part.json").read_text())["verified"] >= 100_000

    (files_dir / "fw.bin").write_bytes(second)
    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(30):
            result = await modem.download(
                url, target, range_size=50_000, sha256=hashlib.sha256(second).hexdigest()
            )
    assert target.read_bytes() == second
    assert (result.resumed_from, result.fetched) == (0, len(second))
    assert any(e["event"] == "download.restart" for e in logs)
