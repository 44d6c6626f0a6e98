"""Parallel ranged download across the modems of a pool.

A one-byte ranged GET learns the size, the validators and whether the server takes ranges.
The file is cut into ranges fetched by one worker per modem, each written at its offset into a
preallocated ``<path>.part``. A range whose modem faults goes back to the queue from where it
stopped and is picked up by another modem. When every byte is in, the file is synced, read back
in order for its hashes and renamed. A server without range support gets one plain GET.

The result, progress reports and errors are those of :func:`n58aio.transfer.download`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from ..errors import (
    HTTPStatusError,
    InvalidValue,
    LinkClosedError,
    NoModemAvailable,
    PortClosedError,
    ProtocolError,
    TooManyRedirects,
    TransferError,
)
from ..http import DEFAULT_MAX_REDIRECTS, Headers, ModuleURL, Response, Timeouts, TLSConfig
from ..http.redirects import redirect_request
from ..redact import redact
from ..transfer.download import DEFAULT_RANGE_SIZE, DownloadResult
from ..transfer.errors import IntegrityError, RangeMismatchError
from ..transfer.integrity import Hashes, check_digests, fsync_directory, hash_file
from ..transfer.options import LINK_FAULTS, RETRY_STATUSES, DownloadOptions
from ..transfer.options import MAX_BACKOFF as MAX_BACKOFF
from ..transfer.progress import ProgressCallback, ProgressReporter
from ..transfer.ranges import changed_validator, content_range
from .member import PoolMember
from .pool_api import DownloadPool

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "MIN_RANGE_SIZE",
    "RANGES_PER_MODEM",
    "PoolDownloadResult",
    "parallel_download",
    "parse_content_range",
    "plan_ranges",
]

MIN_RANGE_SIZE = 16 * 1024
"""Smallest range when a file is cut finer than ``range_size`` to keep every modem busy."""

RANGES_PER_MODEM = 4
"""A file is cut into at least this many ranges per modem (ranges of at least
:data:`MIN_RANGE_SIZE`), so that a slow modem does not hold up the end."""

_FAULTS: tuple[type[Exception], ...] = (PortClosedError, *LINK_FAULTS)


@dataclass(frozen=True, slots=True)
class PoolDownloadResult(DownloadResult):
    """A :class:`~n58aio.transfer.DownloadResult` plus how the work was shared: the number
    of ``ranges`` and the body bytes each modem delivered (``bytes_by_modem``, by name)."""

    ranges: int
    bytes_by_modem: dict[str, int]


@dataclass(order=True, slots=True)
class _Piece:
    start: int
    end: int = field(compare=False)
    failures: int = field(default=0, compare=False)
    last: PoolMember | None = field(default=None, compare=False)


def plan_ranges(total: int, modems: int, range_size: int) -> list[tuple[int, int]]:
    """Cut ``[0, total)`` into ``(start, end)`` ranges of at most ``range_size`` bytes, finer
    when that gives fewer than :data:`RANGES_PER_MODEM` per modem."""
    if range_size < 1:
        raise InvalidValue(f"range_size must be >= 1, not {range_size}")
    spread = math.ceil(total / max(1, modems * RANGES_PER_MODEM))
    size = max(1, min(range_size, max(MIN_RANGE_SIZE, spread)))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 0-99/1000`` -> ``(0, 99, 1000)``; ``bytes */1000`` -> ``(None, None, 1000)``."""
    return content_range(value) or (None, None, None)


async def parallel_download(
    pool: DownloadPool,
    url: str,
    path: str | PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    range_size: int = DEFAULT_RANGE_SIZE,
    progress: ProgressCallback | None = None,
    retries: int = 8,
    backoff: float = 0.5,
    tls: TLSConfig | None = None,
    timeouts: Timeouts | None = None,
) -> PoolDownloadResult:
    """Download ``url`` to ``path`` over the modems of ``pool`` (see :meth:`ModemPool.download
    <n58aio.pool.ModemPool.download>`)."""
    ModuleURL.parse(url)  # refuse a bad URL before anything is written
    options = DownloadOptions.checked(
        sha256, md5, range_size, progress, retries, backoff, tls, timeouts
    )
    return await _Job(pool, url, Path(path), options).run()


class _Job:
    """One parallel download: the probe, the range queue and its workers, the final checks."""

    def __init__(self, pool: DownloadPool, url: str, path: Path, options: DownloadOptions) -> None:
        self.pool = pool
        self.url = url  # where the ranges come from, after redirects
        self.headers: list[tuple[str, str]] | None = None  # credentials kept by a redirect
        self.shown = redact(url)
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.options = options
        self.log = pool.log.bind(url=self.shown, path=str(path))
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.fd = -1
        self.done = 0
        self.fetched = 0
        self.requests = 0
        self.retries = 0
        self.by_modem: dict[str, int] = {}
        self.queue: asyncio.PriorityQueue[_Piece] = asyncio.PriorityQueue()
        self._progress = ProgressReporter(options.progress)

    async def run(self) -> PoolDownloadResult:
        started = time.monotonic()
        ranged = await self._probe()
        self.log.info("pool.download.start", total=self.total, ranged=ranged)
        self.fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if ranged and self.total is not None:
                _preallocate(self.fd, self.total)
                ranges = plan_ranges(self.total, self.pool.size, self.options.range_size)
                await self._run_ranges(ranges)
                size = self.total
            else:
                ranges = [(0, self.total or 0)]
                size = await self._run_whole()
            hashes = await asyncio.to_thread(
                _finish_file, self.fd, size, self.options.md5 is not None
            )
            sha256, md5 = hashes.hexdigests()
            try:
                check_digests(self.options, sha256, md5, self.shown)
            except IntegrityError as exc:
                self.log.error("pool.download.integrity_failed", algorithm=exc.algorithm)
                raise
        except BaseException:
            os.close(self.fd)
            with contextlib.suppress(OSError):
                self.part.unlink()
            raise
        os.close(self.fd)
        os.replace(self.part, self.path)
        fsync_directory(self.path.parent)
        await self._report(force=True)
        result = PoolDownloadResult(
            path=self.path,
            size=size,
            sha256=sha256,
            md5=md5,
            resumed_from=0,
            fetched=self.fetched,
            requests=self.requests,
            retries=self.retries,
            elapsed=time.monotonic() - started,
            ranges=len(ranges),
            bytes_by_modem=dict(self.by_modem),
        )
        self.log.info(
            "pool.download.done",
            size=size,
            ranges=result.ranges,
            requests=result.requests,
            retries=result.retries,
            elapsed=round(result.elapsed, 3),
        )
        return result

    # ------------------------------------------------------------------ probe
    async def _probe(self) -> bool:
        """Learn size and validators with a one-byte range; True when ranges work.

        Redirects are followed first (as httpx, credentials only to the same origin): the
        ranges then come from the final URL."""
        for _ in range(DEFAULT_MAX_REDIRECTS + 1):
            self.requests += 1
            async with self.pool.stream(
                "GET",
                self.url,
                offset=0,
                size=1,
                headers=self.headers,
                tls=self.options.tls,
                timeouts=self.options.timeouts,
            ) as response:
                if response.has_redirect_location:
                    _, self.url, options = redirect_request(
                        "GET",
                        self.url,
                        response.status_code,
                        response.headers["location"],
                        {"headers": self.headers},
                    )
                    self.headers = list(Headers(options.get("headers")).raw) or None
                    self.log.info("pool.download.redirect", to=redact(self.url))
                    continue
                return await self._probe_answer(response)
        raise TooManyRedirects(f"exceeded {DEFAULT_MAX_REDIRECTS} redirects")

    async def _probe_answer(self, response: Response) -> bool:
        first, _, total = parse_content_range(response.headers.get("content-range"))
        self.etag = response.headers.get("etag")
        self.last_modified = response.headers.get("last-modified")
        if response.status_code == 206 and first == 0 and total is not None:
            await response.aread()
            self.total = total
            return True
        if response.status_code == 416 and first is None and total == 0:
            self.total = 0
            return True
        response.raise_for_status()
        if response.status_code != 200:
            raise TransferError(f"unexpected answer {response.status_code} {response.reason}")
        length = response.headers.get("content-length", "").strip()
        self.total = int(length) if length.isdigit() else None
        return False

    # ------------------------------------------------------------------ ranges
    async def _run_ranges(self, ranges: list[tuple[int, int]]) -> None:
        for start, end in ranges:
            self.queue.put_nowait(_Piece(start, end))
        workers = [asyncio.ensure_future(self._worker()) for _ in range(self.pool.size)]
        joined = asyncio.ensure_future(self.queue.join())
        try:
            await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
            for worker in workers:
                if worker.done() and not worker.cancelled():
                    error = worker.exception()
                    if error is not None:
                        raise error
        finally:
            for task in (joined, *workers):
                task.cancel()
            await asyncio.gather(joined, *workers, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            piece = await self.queue.get()
            try:
                await self._attempt(piece)
            finally:
                self.queue.task_done()

    async def _attempt(self, piece: _Piece) -> None:
        before = piece.start
        try:
            await self._fetch(piece)
        except NoModemAvailable:
            if self.pool.closed or self.pool.stats().healthy == 0:
                raise
            self.queue.put_nowait(piece)  # modems are in service, all busy: queue again
            return
        except HTTPStatusError as exc:
            if exc.status_code not in RETRY_STATUSES:
                raise
            error: Exception = exc
        except _FAULTS as exc:
            error = exc
        else:
            return
        piece.failures = 1 if piece.start > before else piece.failures + 1
        self.retries += 1
        self.pool._retries += 1
        if piece.failures > self.options.retries:
            raise TransferError(
                f"range {piece.start}-{piece.end - 1} of {self.shown} failed {piece.failures} "
                f"times in a row; last error: {type(error).__name__}: {error}"
            ) from error
        delay = self.options.delay(piece.failures)
        self.log.info(
            "pool.download.range_retry",
            start=piece.start,
            end=piece.end,
            modem=piece.last.name if piece.last else None,
            error=f"{type(error).__name__}: {error}",
            delay=round(delay, 3),
        )
        if piece.failures > 1:  # it moved to another modem already: give it time
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        self.queue.put_nowait(piece)

    async def _fetch(self, piece: _Piece) -> None:
        avoid = [piece.last] if piece.last is not None else []
        async with self.pool._lease(avoid) as member:
            piece.last = member
            assert member.modem is not None
            self.requests += 1
            async with member.modem.stream(
                "GET",
                self.url,
                offset=piece.start,
                size=piece.end - piece.start,
                headers=self.headers,
                tls=self.options.tls,
                timeouts=self.options.timeouts,
            ) as response:
                self._check_range(response, piece)
                async for chunk in response.aiter_bytes():
                    if len(chunk) > piece.end - piece.start:
                        raise ProtocolError("more bytes than the range holds")
                    self._write(member, piece, chunk)
                    await self._report()
            if piece.start < piece.end:
                raise LinkClosedError(f"range body ended {piece.end - piece.start} bytes short")

    def _check_range(self, response: Response, piece: _Piece) -> None:
        status = response.status_code
        if status != 206:
            if status >= 400:
                raise HTTPStatusError(status, response.reason, self.shown)
            raise RangeMismatchError(f"{self.shown} answered {status} to a range request")
        value = response.headers.get("content-range")
        first, last, total = parse_content_range(value)
        if first != piece.start or last != piece.end - 1 or total != self.total:
            raise RangeMismatchError(
                f"asked for bytes {piece.start}-{piece.end - 1}/{self.total}, got {value!r}"
            )
        name = changed_validator(response, self.etag, self.last_modified)
        if name is not None:
            raise RangeMismatchError(f"{self.shown} changed during the download ({name})")

    def _write(self, member: PoolMember, piece: _Piece, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            written = os.pwrite(self.fd, view, piece.start)
            view = view[written:]
            piece.start += written
            self._count(member, written)

    def _count(self, member: PoolMember, count: int) -> None:
        member.bytes += count
        self.by_modem[member.name] = self.by_modem.get(member.name, 0) + count
        self.fetched += count
        self.done += count

    # ------------------------------------------------------------------ no ranges
    async def _run_whole(self) -> int:
        """One plain GET, started over on another modem after a fault."""
        failures = 0
        while True:
            try:
                return await self._whole()
            except _FAULTS as exc:
                failures += 1
                self.retries += 1
                if failures > self.options.retries:
                    raise TransferError(f"download of {self.shown} failed: {exc}") from exc
                self.log.info("pool.download.restart", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.options.delay(failures))

    async def _whole(self) -> int:
        os.ftruncate(self.fd, 0)
        self.done = 0
        self.requests += 1
        async with self.pool._lease() as member:
            assert member.modem is not None
            async with member.modem.stream(
                "GET",
                self.url,
                headers=self.headers,
                tls=self.options.tls,
                timeouts=self.options.timeouts,
                compress=False,  # a download keeps identity: sizes and hashes of the file
            ) as response:
                response.raise_for_status()
                offset = 0
                async for chunk in response.aiter_bytes():
                    view = memoryview(chunk)
                    while view:
                        written = os.pwrite(self.fd, view, offset)
                        view = view[written:]
                        offset += written
                        self._count(member, written)
                    await self._report()
        if self.total is not None and offset != self.total:
            raise LinkClosedError(f"body ended at {offset} of {self.total} bytes")
        return offset

    # ------------------------------------------------------------------ progress
    async def _report(self, force: bool = False) -> None:
        await self._progress.report(self.done, self.total, force)


def _preallocate(fd: int, size: int) -> None:
    if size <= 0:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError):
        os.ftruncate(fd, size)


def _finish_file(fd: int, size: int, md5: bool) -> Hashes:
    """Sync the file, then read it back in order for its SHA-256 (and MD5)."""
    os.ftruncate(fd, size)
    os.fsync(fd)
    hashes = Hashes.new(md5)
    hashed = hash_file(fd, size, hashes)
    if hashed < size:
        raise TransferError(f"the part file ends at {hashed} of {size} bytes")
    return hashes
