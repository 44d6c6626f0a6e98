"""The one downloader: ranged GETs fetched by N workers into ``<path>.part``, resumable.

``Modem.download`` is this engine with one worker (its modem); ``ModemPool.download`` is it
with one worker per modem of the pool. A :class:`RangeSource` says what differs: how many
workers, how a worker gets a modem (a pool leases one, preferring another than the one that just
failed), and what to do after a fault (a modem recovers itself; a pool supervises its members).

The first range (``range_size`` bytes, or :data:`FIRST_OF_MANY` with several workers) is
fetched alone: it learns the size and validators (``ETag``, ``Last-Modified``) and whether the
server takes ranges. A ``200`` to it is the whole file (no ranges: one worker, started over from
0 after a fault). Then the rest is cut by :func:`plan_ranges` and queued; each worker writes its
range at its offset as the bytes arrive. A range is checked (status 206, ``Content-Range``
equal to the range asked for, the same size and validators, exactly the bytes announced); a
range that faults goes back to the queue from where it stopped, under one
:class:`~n58aio.RetryPolicy` (:class:`~n58aio.retry.Attempts` per range: progress restarts
its count; full-jitter delay).

The verified prefix ``[0, verified)`` is what is hashed: a range that starts at the prefix is
hashed as it streams; a range that completes out of order is read back when the prefix reaches
it (never with one worker). ``<path>.part.json`` (:mod:`.sidecar`) records the prefix about once
a second and whenever the download stops, so a later call (by a modem or a pool) resumes from it.
The file gets its final name only when complete and matching the expected digests.

A target that exists and is not a regular file (``/dev/null``, a FIFO, a terminal: see
:mod:`.localfile`) is never renamed over: the ranges go to an anonymous temporary file instead,
copied into the target once complete and verified. Such a download does not resume (a side file
beside a device makes no sense): it has no ``.part`` or sidecar, and starts from 0 every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from ..errors import (
    HTTPStatusError,
    LinkClosedError,
    N58Error,
    NoModemAvailable,
    PortClosedError,
    ProtocolError,
    TooManyRedirects,
    TransferError,
)
from ..http import DEFAULT_MAX_REDIRECTS, Headers, ModuleURL, Response
from ..http.redirects import redirect_request
from ..redact import loggable_line, redact
from ..retry import Attempts, RetryPolicy
from .errors import IntegrityError, RangeMismatchError
from .integrity import Hashes, check_digests, fsync_directory
from .localfile import deliver, staging_fd, writes_in_place
from .modem_api import DownloadModem
from .options import DownloadSettings
from .progress import ProgressReporter
from .ranges import changed_validator, content_range, plan_ranges
from .sidecar import hash_prefix, read_sidecar, write_sidecar

__all__ = [
    "CHECKPOINT_INTERVAL",
    "FIRST_OF_MANY",
    "DownloadResult",
    "ModemSource",
    "RangeEngine",
    "RangeSource",
    "Worker",
]

CHECKPOINT_INTERVAL = 1.0
"""Seconds between two sidecar updates while ranges complete."""

FIRST_OF_MANY = 1
"""Bytes of the first range when there are several workers: it only learns the size and the
validators before the others start (its byte is kept, not fetched again)."""

_RESET_REPORTS = ("+PBREADY", "GPRS DISCONNECTION")
"""Reports after which the range in flight is abandoned at once (a restart, a lost link)."""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """A finished download.

    ``sha256`` (always) and ``md5`` (when one was expected) are the hex digests of the whole
    file; ``resumed_from`` the verified bytes found on disk at the start, ``fetched`` the body
    bytes received by this call (re-fetched ones included), ``requests`` the ranged GETs sent
    and ``retries`` the failed attempts.
    """

    path: Path
    size: int
    sha256: str
    md5: str | None
    resumed_from: int
    fetched: int
    requests: int
    retries: int
    elapsed: float


@dataclass(frozen=True, slots=True)
class Worker:
    """A modem lent to the engine for one range: its ``name`` (for ``bytes_by_modem``) and
    what to tell of the body bytes it delivered (a pool member's count)."""

    name: str
    modem: DownloadModem
    on_bytes: Callable[[int], None] | None = None


class RangeSource(Protocol):
    """What differs between a modem's download and a pool's: see the module docstring."""

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger: ...

    @property
    def workers(self) -> int: ...

    @property
    def policy(self) -> RetryPolicy: ...

    def lease(self, avoid: str | None) -> AbstractAsyncContextManager[Worker]:
        """A modem for one range, another than ``avoid`` (the one that failed) if it can."""
        ...

    async def recovered(self, error: N58Error) -> None:
        """After a fault of a range and the retry delay, before the next attempt."""
        ...

    def waits(self, error: NoModemAvailable) -> bool:
        """Whether a range that found no modem free goes back to the queue (else it fails)."""
        ...

    def retried(self) -> None:
        """A range failed and is tried again (a pool counts it in its stats)."""
        ...


class ModemSource:
    """One worker, the modem; after a fault the modem recovers (restart, lost link)."""

    workers = 1

    def __init__(self, modem: DownloadModem, settings: DownloadSettings) -> None:
        self.modem = modem
        self.log = modem.log
        self.policy = settings.policy()
        self._worker = Worker("modem", modem)

    @contextlib.asynccontextmanager
    async def _lease(self) -> AsyncIterator[Worker]:
        yield self._worker

    def lease(self, avoid: str | None) -> AbstractAsyncContextManager[Worker]:
        return self._lease()

    async def recovered(self, error: N58Error) -> None:
        """Have the modem find out what went wrong and bring itself back up; a failure here
        costs one more attempt."""
        try:
            await self.modem.recover()
        except PortClosedError:
            raise
        except N58Error as exc:
            self.log.warning("download.recover_failed", error=f"{type(exc).__name__}: {exc}")

    def waits(self, error: NoModemAvailable) -> bool:
        return False

    def retried(self) -> None:
        """Nothing: the result's ``retries`` counts them."""


class _Restart(Exception):
    """The partial file belongs to another version of the resource: start again from 0."""


@dataclass(order=True, slots=True)
class _Piece:
    """A range ``[start, end)`` still to fetch (``end`` None: until the body ends); ``start``
    moves on as bytes are written. ``hashes`` covers ``[0, start)`` when the range began at
    the verified prefix (hashed as it streams), else None (read back later)."""

    origin: int = field(compare=False)
    start: int
    end: int | None = field(compare=False)
    attempts: Attempts = field(compare=False)
    hashes: Hashes | None = field(default=None, compare=False)
    last: str | None = field(default=None, compare=False)


class RangeEngine:
    """State of one download: see the module docstring."""

    def __init__(
        self, source: RangeSource, target: ModuleURL, path: Path, options: DownloadSettings
    ) -> None:
        self.source = source
        self.target = target
        self.shown = target.redacted()
        self.url = target.url  # where the ranges come from, after redirects
        self.headers: list[tuple[str, str]] | None = None  # credentials kept by a redirect
        self.redirects = 0
        self.path = path
        self.in_place = writes_in_place(path)  # a device or FIFO: staged, then written into
        self.part = path.with_name(path.name + ".part")
        self.sidecar = path.with_name(path.name + ".part.json")
        self.options = options
        self.policy = source.policy
        self.log: structlog.typing.FilteringBoundLogger = source.log.bind(
            url=self.shown, path=str(path)
        )
        # what is verified: [0, verified) of the .part file, hashed by _hashes
        self.verified = 0
        self._hashes = Hashes.new(md5=options.md5 is not None)
        self._completed: dict[int, int] = {}  # ranges done beyond the prefix: origin -> end
        self._absorbing = asyncio.Lock()
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.confirmed = False  # the server confirmed size and validators in this call
        self.whole_file = False  # the server answered 200: ranges are not supported
        self.fd = -1
        self._checkpoint_lock = threading.Lock()  # a cancelled to_thread() may still run
        self._last_checkpoint = 0.0
        self._finished = False
        # this call
        self.resumed_from = 0
        self.fetched = 0
        self.requests = 0
        self.retries = 0
        self.restarts = 0
        self.ranges = 0
        self.by_modem: dict[str, int] = {}
        self.done = 0  # bytes on disk counted for progress
        self._progress = ProgressReporter(options.progress)

    # ------------------------------------------------------------------ main
    async def run(self) -> DownloadResult:
        started = time.monotonic()
        try:
            await self._open()
            self.log.info(
                "download.start",
                resumed_from=self.verified,
                total=self.total,
                range_size=self.options.range_size,
                workers=self.source.workers,
            )
            await self._fetch_all()
            result = await self._finish(started)
        finally:
            self._close()
        self.log.info(
            "download.complete",
            size=result.size,
            fetched=result.fetched,
            requests=result.requests,
            retries=result.retries,
            ranges=self.ranges,
            elapsed=round(result.elapsed, 3),
        )
        return result

    async def _fetch_all(self) -> None:
        """The first range alone (it confirms size and version), then the rest in parallel."""
        while True:
            if self.total is not None and self.verified >= self.total:
                return
            first = self.options.range_size if self.source.workers == 1 else FIRST_OF_MANY
            end = self.verified + first
            if self.total is not None:
                end = min(end, self.total)
            try:
                await self._run_queue([(self.verified, end)], workers=1)
            except _Restart as exc:
                self.restarts += 1
                if self.restarts > 1:
                    raise RangeMismatchError(f"{self.shown} keeps changing: {exc}") from None
                self.log.warning("download.restart", reason=str(exc))
                self._start_over()
                continue
            break
        if self.total is None or self.verified >= self.total:
            return
        rest = plan_ranges(self.total, self.source.workers, self.options.range_size, self.verified)
        await self._run_queue(rest, workers=self.source.workers)

    async def _run_queue(self, ranges: list[tuple[int, int]], workers: int) -> None:
        queue: asyncio.PriorityQueue[_Piece] = asyncio.PriorityQueue()  # lowest offset first
        for start, end in ranges:
            queue.put_nowait(_Piece(start, start, end, Attempts(self.policy)))
            self.ranges += 1
        tasks = [
            asyncio.ensure_future(self._worker(queue)) for _ in range(min(workers, len(ranges)))
        ]
        joined = asyncio.ensure_future(queue.join())
        try:
            await asyncio.wait([joined, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled():
                    error = task.exception()
                    if error is not None:
                        raise error
        finally:
            for task in (joined, *tasks):
                task.cancel()
            await asyncio.gather(joined, *tasks, return_exceptions=True)

    async def _worker(self, queue: asyncio.PriorityQueue[_Piece]) -> None:
        while True:
            piece = await queue.get()
            try:
                if await self._attempt(piece):
                    await self._completed_range(piece)
                else:
                    queue.put_nowait(piece)
            finally:
                queue.task_done()

    # ------------------------------------------------------------------ one attempt
    async def _attempt(self, piece: _Piece) -> bool:
        """One ranged GET for ``piece``; True when it is complete, False when it goes back to
        the queue (after a fault and the policy's delay, or a redirect)."""
        before = piece.start
        try:
            async with self.source.lease(piece.last) as worker:
                piece.last = worker.name
                await self._watched(worker, piece)
            return True
        except _Redirected:
            return False
        except NoModemAvailable as exc:
            if self.source.waits(exc):
                return False
            raise
        except N58Error as exc:
            if not self.policy.retryable(exc):
                raise
            error = exc
        if piece.start > before:
            piece.attempts.succeeded()  # bytes came: the count in a row starts again
        self.retries += 1
        self.source.retried()
        delay = piece.attempts.after(error)
        if delay is None:
            raise TransferError(
                f"download of {self.shown} gave up at byte {piece.start} after "
                f"{piece.attempts.failures} failed attempts in a row: "
                f"{type(error).__name__}: {error}"
            ) from error
        self.log.warning(
            "download.retry",
            offset=piece.start,
            modem=piece.last,
            attempt=piece.attempts.failures,
            error=f"{type(error).__name__}: {error}",
            delay=round(delay, 3),
        )
        if self.whole_file:
            self._start_over()  # no ranges: the only way is from the start
            piece.start = piece.origin = 0
            piece.hashes = None
        await asyncio.sleep(delay)
        await self.source.recovered(error)
        return False

    async def _watched(self, worker: Worker, piece: _Piece) -> None:
        """The ranged GET, abandoned at once when the module reports a restart or link loss."""
        reset: list[str] = []
        loop = asyncio.get_running_loop()

        def on_reset(line: str) -> None:
            if worker.modem.supervisor.explains(line):
                return  # the supervisor's own bring-up (a PIN taken): not a restart
            reset.append(line)
            if not scope.expired():
                scope.reschedule(loop.time())

        try:
            async with asyncio.timeout(None) as scope:
                unsubscribe = [worker.modem.on_urc(p, on_reset) for p in _RESET_REPORTS]
                try:
                    await self._fetch(worker, piece)
                finally:
                    for undo in unsubscribe:
                        undo()
        except TimeoutError:
            if reset and scope.expired():
                raise LinkClosedError(
                    f"module restarted or lost the link ({loggable_line(reset[0])})"
                ) from None
            raise

    async def _fetch(self, worker: Worker, piece: _Piece) -> None:
        if piece.hashes is None and piece.start == self.verified:
            piece.hashes = self._hashes.copy()  # at the prefix: hash it as it streams
        size = None if piece.end is None else piece.end - piece.start
        self.requests += 1
        async with worker.modem.stream(
            "GET",
            self.url,
            offset=None if size is None else piece.start,
            size=size,
            headers=self.headers,
            tls=self.options.tls,
            timeouts=self.options.timeouts,
        ) as response:
            if response.has_redirect_location:
                self._follow(response)
                raise _Redirected
            length = self._check(response, piece.start, size)
            piece.end = None if length is None else piece.start + length
            if length != 0:  # a 416 "nothing after offset" has a body of its own
                await self._receive(worker, response, piece)

    def _follow(self, response: Response) -> None:
        """Go on at the redirect's location (credentials only to the same origin, as httpx);
        the sidecar keeps the URL asked for, so a resumed download follows it again."""
        self.redirects += 1
        if self.redirects > DEFAULT_MAX_REDIRECTS:
            raise TooManyRedirects(
                f"download of {self.shown} exceeded {DEFAULT_MAX_REDIRECTS} redirects"
            )
        _, self.url, options = redirect_request(
            "GET",
            self.url,
            response.status_code,
            response.headers["location"],
            {"headers": self.headers},
        )
        self.headers = list(Headers(options.get("headers")).raw) or None
        self.log.info("download.redirect", status=response.status_code, to=redact(self.url))

    def _check(self, response: Response, offset: int, size: int | None) -> int | None:
        """Check the answer to a range request; return the body length it must have (None:
        until the body ends)."""
        status = response.status_code
        headers = response.headers
        if status == 206:
            value = headers.get("content-range")
            parsed = content_range(value)
            if parsed is None or parsed[0] is None or parsed[1] is None or parsed[1] < parsed[0]:
                raise RangeMismatchError(f"206 without a usable Content-Range ({value!r})")
            first, last, total = parsed
            if total is None:
                raise RangeMismatchError(f"the server did not give the size ({value!r})")
            self._check_version(response, total)
            asked = offset + (size or 0)
            end = min(asked, total) - 1
            if first != offset or last != end:
                raise RangeMismatchError(
                    f"asked for bytes {offset}-{asked - 1}, got {first}-{last}/{total}"
                )
            length = last - first + 1
            declared = _content_length(response)
            if declared is not None and declared != length:
                raise RangeMismatchError(
                    f"Content-Length {declared} does not match Content-Range {value!r}"
                )
            return length
        if status == 200:
            if offset != 0:
                raise RangeMismatchError(
                    f"the server answered 200 (the whole file) to a range request at offset "
                    f"{offset}: it does not support ranges, the download cannot resume"
                )
            whole = _content_length(response)
            self._check_version(response, whole)
            if not self.whole_file:
                self.whole_file = True
                self.log.info("download.whole_file", total=whole)
            return whole
        if status == 416:
            parsed = content_range(headers.get("content-range"))
            if parsed is not None and parsed[0] is None and parsed[2] == offset:
                self._check_version(response, offset, validators=False)
                return 0  # nothing after offset: complete (an empty file, say)
            if self.verified and not self.confirmed:
                raise _Restart(f"416 for offset {offset}: the file shrank")
            raise RangeMismatchError(f"416 Range Not Satisfiable for offset {offset}")
        if status >= 400:
            raise HTTPStatusError(status, response.reason, self.shown)
        location = headers.get("location")
        where = f" to {location}" if location else ""
        raise TransferError(f"unexpected answer {status} {response.reason}{where}")

    def _check_version(
        self, response: Response, total: int | None, validators: bool = True
    ) -> None:
        etag = response.headers.get("etag") if validators else None
        modified = response.headers.get("last-modified") if validators else None
        changed = total != self.total or (
            validators and changed_validator(response, self.etag, self.last_modified) is not None
        )
        if not self.confirmed:
            if self.verified and changed:
                raise _Restart(
                    f"size {self.total} -> {total}, ETag {self.etag} -> {etag}, "
                    f"Last-Modified {self.last_modified} -> {modified}"
                )
            self.total = total
            self.etag = etag if etag is not None else self.etag
            self.last_modified = modified if modified is not None else self.last_modified
            self.confirmed = True
            if total:
                _preallocate(self.fd, total)
        elif changed:
            self._discard()
            raise RangeMismatchError(
                f"{self.shown} changed on the server during the download "
                f"(size {self.total} -> {total}, ETag {self.etag} -> {etag}); "
                "the partial file was deleted"
            )

    async def _receive(self, worker: Worker, response: Response, piece: _Piece) -> None:
        """Write the body at the range's offset as it streams (and hash it when the range is
        at the prefix); the range is complete only when exactly the bytes announced came."""
        async for chunk in response.aiter_bytes():
            if piece.end is not None and piece.start + len(chunk) > piece.end:
                raise ProtocolError(
                    f"more than the {piece.end - piece.origin} bytes announced for the range"
                )
            _write_at(self.fd, chunk, piece.start)
            if piece.hashes is not None:
                piece.hashes.update(chunk)
            piece.start += len(chunk)
            self.fetched += len(chunk)
            self.done += len(chunk)
            self.by_modem[worker.name] = self.by_modem.get(worker.name, 0) + len(chunk)
            if worker.on_bytes is not None:
                worker.on_bytes(len(chunk))
            await self._report()
        if piece.end is None:  # a whole-file answer delimited by the link closing
            piece.end = piece.start
            self.total = piece.start
        elif piece.start != piece.end:
            raise LinkClosedError(
                f"range at {piece.origin} ended after {piece.start - piece.origin} of "
                f"{piece.end - piece.origin} bytes"
            )

    # ------------------------------------------------------------------ the verified prefix
    async def _completed_range(self, piece: _Piece) -> None:
        """Move the verified prefix over ``piece`` and the ranges done after it."""
        end = piece.start
        async with self._absorbing:
            if piece.hashes is not None and piece.origin == self.verified:
                self._hashes = piece.hashes
                self.verified = end
            else:
                self._completed[piece.origin] = end
            while self.verified in self._completed:
                start = self.verified
                stop = self._completed.pop(start)
                hashes = self._hashes.copy()  # prefix and hashes change together, or not at all
                await asyncio.to_thread(_hash_range, self.fd, start, stop, hashes)
                self._hashes, self.verified = hashes, stop
            record = self._record()  # taken here: consistent whatever the other workers do
        if time.monotonic() - self._last_checkpoint >= CHECKPOINT_INTERVAL:
            await asyncio.to_thread(self._checkpoint, record)

    # ------------------------------------------------------------------ files
    async def _open(self) -> None:
        """Open ``.part``, resuming from the sidecar's verified prefix when it checks out (an
        in-place target: an anonymous staging file, nothing to resume)."""
        if self.in_place:
            self.fd = staging_fd()
            return
        record = read_sidecar(self.sidecar)
        resumable = (
            record is not None
            and record["url"] == self.shown
            and self.part.is_file()
            and self.part.stat().st_size >= record["verified"]
        )
        if record is not None and resumable:
            verified = record["verified"]
            hashes = await asyncio.to_thread(
                hash_prefix, self.part, verified, self.options.md5 is not None
            )
            if hashes.sha256.hexdigest() == record["sha256_prefix"]:
                self.fd = os.open(self.part, os.O_RDWR)
                os.ftruncate(self.fd, verified)
                self.verified = self.done = self.resumed_from = verified
                self._hashes = hashes
                self.total = record["total"]
                self.etag = record["etag"]
                self.last_modified = record["last_modified"]
                self.log.info("download.resume", verified=verified, total=self.total)
                return
            self.log.warning("download.resume_rejected", reason="prefix hash differs")
        elif record is not None:
            self.log.warning("download.resume_rejected", reason="sidecar does not match")
        self.fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._checkpoint()

    def _start_over(self) -> None:
        os.ftruncate(self.fd, 0)
        self.verified = self.done = self.resumed_from = 0
        self._completed.clear()
        self.total = None
        self.etag = self.last_modified = None
        self.confirmed = False
        self._hashes = Hashes.new(md5=self.options.md5 is not None)
        self._progress.restart()

    def _record(self) -> dict[str, Any]:
        """What the sidecar says of the verified prefix, as it stands now."""
        return {
            "url": self.shown,
            "total": self.total,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "verified": self.verified,
            "range_size": self.options.range_size,
            "sha256_prefix": self._hashes.sha256.hexdigest(),
        }

    def _checkpoint(self, record: dict[str, Any] | None = None) -> None:
        """Make the verified prefix durable, then record it (``record``, taken on the event
        loop, or the state now) in the sidecar."""
        with self._checkpoint_lock:
            self._write_checkpoint(self.fd, record or self._record())

    def _write_checkpoint(self, fd: int, record: dict[str, Any]) -> None:
        if self.in_place:
            self._last_checkpoint = time.monotonic()  # no sidecar: the staging file dies with fd
            return
        self._last_checkpoint = write_sidecar(self.sidecar, fd, record)

    def _close(self) -> None:
        """Leave the partial file and its sidecar consistent (also on cancellation); with
        nothing verified (a 302 or a 404 at the first range, say), or an in-place target's
        staging file (nothing resumes it), leave neither behind."""
        if not self._finished and (self.verified == 0 or self.in_place):
            self._discard()
            return
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        try:
            if not self._finished:
                with self._checkpoint_lock:
                    os.ftruncate(fd, self.verified)
                    self._write_checkpoint(fd, self._record())
                self.log.info("download.paused", verified=self.verified, total=self.total)
        except OSError as exc:
            self.log.warning("download.checkpoint_failed", error=str(exc))
        finally:
            os.close(fd)

    def _discard(self) -> None:
        """Delete the partial file and its sidecar."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
        self._finished = True
        if self.in_place:
            return  # the staging file is anonymous: closing it was enough
        for leftover in (self.part, self.sidecar):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    async def _finish(self, started: float) -> DownloadResult:
        size = self.verified
        await asyncio.to_thread(_sync, self.fd, size)
        sha256, md5 = self._hashes.hexdigests()
        try:
            check_digests(self.options, sha256, md5, self.shown)
        except IntegrityError as exc:
            self._discard()
            self.log.error("download.integrity_failed", algorithm=exc.algorithm, actual=exc.actual)
            raise
        self._finished = True
        if self.in_place:
            fd, self.fd = self.fd, -1
            await deliver(fd, size, self.path)  # closes fd
        else:
            os.close(self.fd)
            self.fd = -1
            os.replace(self.part, self.path)
            fsync_directory(self.path.parent)
            with contextlib.suppress(FileNotFoundError):
                self.sidecar.unlink()
        self.done = size
        await self._report(force=True)
        return DownloadResult(
            path=self.path,
            size=size,
            sha256=sha256,
            md5=md5,
            resumed_from=self.resumed_from,
            fetched=self.fetched,
            requests=self.requests,
            retries=self.retries,
            elapsed=time.monotonic() - started,
        )

    # ------------------------------------------------------------------ progress
    async def _report(self, force: bool = False) -> None:
        await self._progress.report(self.done, self.total, force)


class _Redirected(Exception):
    """The range was answered with a redirect: asked again at the new location."""


# ---------------------------------------------------------------------- helpers


def _content_length(response: Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        raise ProtocolError(f"bad Content-Length {value!r}")
    return int(value)


def _write_at(fd: int, chunk: bytes, offset: int) -> None:
    view = memoryview(chunk)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _hash_range(fd: int, start: int, stop: int, hashes: Hashes) -> None:
    """Feed bytes ``[start, stop)`` of ``fd`` (written by a range done out of order)."""
    offset = start
    while offset < stop:
        block = os.pread(fd, min(1 << 20, stop - offset), offset)
        if not block:
            raise TransferError(f"the part file ends at {offset} of {stop} bytes")
        hashes.update(block)
        offset += len(block)


def _preallocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError):
        os.ftruncate(fd, size)


def _sync(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)
