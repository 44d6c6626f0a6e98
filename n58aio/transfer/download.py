"""Large downloads to a local file that survive faults and resume after an interruption.

The file is fetched as a series of ranged GETs (``AT+HTTPACTION=0,<offset>,<size>``). Each
range is streamed to ``<path>.part`` as it arrives and counts as verified only once it is
complete: status 206, ``Content-Range`` equal to the range asked for, the size and validators
(``ETag``, ``Last-Modified``) of the first answer, and exactly the announced number of bytes.
A range that fails (link closed, framing lost, timeout, module reset) is rolled back and
fetched again with exponential backoff, re-attaching the data link when it was lost.

``<path>.part.json`` records what is verified (URL, size, validators, the verified byte count and
the SHA-256 of that prefix); it is rewritten about once a second and whenever the download stops,
after the data it describes has been flushed to disk. A later call re-hashes the prefix, checks it
against the record and the server, and continues from there. The file gets its final name only
when it is complete and matches the expected hashes; a mismatch deletes the partial file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Unpack

import structlog

from ..errors import (
    HTTPStatusError,
    LinkClosedError,
    N58Error,
    PortClosedError,
    ProtocolError,
    TooManyRedirects,
    TransferError,
)
from ..http import DEFAULT_MAX_REDIRECTS, Headers, ModuleURL, Response
from ..http.redirects import redirect_request
from ..redact import loggable_line, redact
from ..retry import Attempts
from .errors import IntegrityError, RangeMismatchError
from .integrity import Hashes, check_digests, fsync_directory, hash_file
from .modem_api import DownloadModem
from .options import DEFAULT_RANGE_SIZE as DEFAULT_RANGE_SIZE
from .options import MAX_BACKOFF as MAX_BACKOFF
from .options import RETRY_STATUSES as RETRY_STATUSES
from .options import DownloadOptions, DownloadSettings
from .progress import PROGRESS_INTERVAL as PROGRESS_INTERVAL
from .progress import RATE_WINDOW as RATE_WINDOW
from .progress import Progress, ProgressCallback, ProgressReporter
from .ranges import changed_validator, content_range

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "DownloadResult",
    "Progress",
    "ProgressCallback",
    "download",
]

SIDECAR_VERSION = 1
CHECKPOINT_INTERVAL = 1.0
"""Seconds between two sidecar updates while ranges complete."""


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


class _Restart(Exception):
    """The partial file belongs to another version of the resource: start again from 0."""


async def download(
    modem: DownloadModem,
    url: str,
    path: str | os.PathLike[str],
    **options: Unpack[DownloadOptions],
) -> DownloadResult:
    """Download ``url`` to ``path`` with ranged GETs of ``range_size`` bytes; resumable.
    The options are :class:`~n58aio.transfer.DownloadOptions`.

    ``sha256``/``md5`` (hex) are checked over the whole file before it gets its final name
    (:class:`~n58aio.transfer.IntegrityError` otherwise, and the partial file is deleted).
    A failed range is retried up to ``retries`` times in a row (the count restarts after each
    completed range) under :meth:`DownloadSettings.policy
    <n58aio.transfer.options.DownloadSettings.policy>`: a delay drawn below ``backoff`` seconds,
    a ceiling doubled after each failure (at most 30 s; full jitter), and the modem recovered.
    ``progress`` is called with a :class:`Progress` at most every 0.1 s and once at the end.
    ``tls`` and ``timeouts`` apply to every request.

    Raises :class:`~n58aio.errors.TransferError` when it gives up (the verified part stays on
    disk for the next call), :class:`~n58aio.transfer.RangeMismatchError` when the server
    answers another range or another version, :class:`~n58aio.errors.HTTPStatusError` for an
    error status that is not worth retrying, ``OSError`` for local file errors.
    """
    target = ModuleURL.parse(url)
    settings = DownloadSettings.of(options)
    return await _Download(modem, target, Path(path), settings).run()


class _Download:
    """State of one :func:`download` call."""

    def __init__(
        self, modem: DownloadModem, target: ModuleURL, path: Path, options: DownloadSettings
    ) -> None:
        self.modem = modem
        self.target = target
        self.url = target.url  # where the ranges come from, after redirects
        self.headers: list[tuple[str, str]] | None = None  # credentials kept by a redirect
        self.redirects = 0
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.sidecar = path.with_name(path.name + ".part.json")
        self.options = options
        self.log: structlog.typing.FilteringBoundLogger = modem.log.bind(
            url=target.redacted(), path=str(path)
        )
        # what is verified: [0, verified) of the .part file, hashed by _hashes
        self.verified = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.confirmed = False  # the server confirmed size and validators in this call
        self.whole_file = False  # the server answered 200: ranges are not supported
        self._hashes = Hashes.new(md5=options.md5 is not None)
        self._file: IO[bytes] | None = None
        self._checkpoint_lock = threading.Lock()  # a cancelled to_thread() may still run
        # this call
        self.resumed_from = 0
        self.fetched = 0
        self.requests = 0
        self.retries = 0
        self.restarts = 0
        self.done = 0  # verified + bytes of the range in flight (for progress)
        self._finished = False
        self._last_checkpoint = 0.0
        self._progress = ProgressReporter(options.progress)
        self._scope: asyncio.Timeout | None = None
        self._reset_line: str | None = None

    # ------------------------------------------------------------------ main loop
    async def run(self) -> DownloadResult:
        started = time.monotonic()
        unsubscribe = [
            self.modem.on_urc("+PBREADY", self._on_reset),
            self.modem.on_urc("GPRS DISCONNECTION", self._on_reset),
        ]
        try:
            await self._open()
            self.log.info(
                "download.start",
                resumed_from=self.verified,
                total=self.total,
                range_size=self.options.range_size,
            )
            await self._fetch_all()
            result = await self._finish(started)
        finally:
            for undo in unsubscribe:
                undo()
            self._close()
        self.log.info(
            "download.complete",
            size=result.size,
            fetched=result.fetched,
            requests=result.requests,
            retries=result.retries,
            elapsed=round(result.elapsed, 3),
        )
        return result

    async def _fetch_all(self) -> None:
        policy = self.options.policy()
        attempts = Attempts(policy)
        while self.total is None or self.verified < self.total:
            try:
                await self._watched_attempt()
            except _Restart as exc:
                self.restarts += 1
                if self.restarts > 1:
                    shown = self.target.redacted()
                    raise RangeMismatchError(f"{shown} keeps changing: {exc}") from None
                self.log.warning("download.restart", reason=str(exc))
                self._start_over()
                continue
            except N58Error as exc:
                if not policy.retryable(exc):
                    raise
                self.retries += 1
                delay = attempts.after(exc)
                if delay is None:
                    raise TransferError(
                        f"download of {self.target.redacted()} gave up at byte {self.verified} "
                        f"after {attempts.failures} failed attempts: {exc}"
                    ) from exc
                self.log.warning(
                    "download.retry",
                    offset=self.verified,
                    attempt=attempts.failures,
                    error=f"{type(exc).__name__}: {exc}",
                    delay=round(delay, 3),
                )
                if self.whole_file:
                    self._start_over()  # no ranges: the only way is from the start
                await asyncio.sleep(delay)
                await self._recover()
                continue
            attempts.succeeded()
            if time.monotonic() - self._last_checkpoint >= CHECKPOINT_INTERVAL:
                await asyncio.to_thread(self._checkpoint)

    async def _watched_attempt(self) -> None:
        """One ranged GET, abandoned at once when the module reports a restart."""
        self._reset_line = None
        try:
            async with asyncio.timeout(None) as scope:
                self._scope = scope
                try:
                    await self._attempt()
                finally:
                    self._scope = None
        except TimeoutError:
            if self._reset_line is not None and scope.expired():
                raise LinkClosedError(
                    f"module restarted or lost the link ({loggable_line(self._reset_line)})"
                ) from None
            raise

    def _on_reset(self, line: str) -> None:
        if self.modem.supervisor.explains(line):
            return  # the supervisor's own bring-up (a PIN taken): not a restart
        self._reset_line = line
        scope = self._scope
        if scope is not None and not scope.expired():
            scope.reschedule(asyncio.get_running_loop().time())

    async def _recover(self) -> None:
        """Have the modem find out what went wrong and bring itself back up (after a module
        restart or a lost data link, say); a failure here costs one more attempt."""
        try:
            await self.modem.recover()
        except PortClosedError:
            raise
        except N58Error as exc:
            self.log.warning("download.recover_failed", error=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ one range
    async def _attempt(self) -> None:
        options = self.options
        offset = self.verified
        size = options.range_size
        if self.total is not None:
            size = min(size, self.total - offset)
        file = self._need_file()
        file.seek(offset)
        file.truncate()
        self.requests += 1
        async with self.modem.stream(
            "GET",
            self.url,
            offset=offset,
            size=size,
            headers=self.headers,
            tls=options.tls,
            timeouts=options.timeouts,
        ) as response:
            if response.has_redirect_location:
                self._follow(response)
                return
            length = self._check_head(response, offset, size)
            if length == 0:
                return
            await self._receive(response, offset, length)

    def _follow(self, response: Response) -> None:
        """Go on at the redirect's location (credentials only to the same origin, as httpx);
        the sidecar keeps the URL asked for, so a resumed download follows it again."""
        self.redirects += 1
        if self.redirects > DEFAULT_MAX_REDIRECTS:
            raise TooManyRedirects(
                f"download of {self.target.redacted()} exceeded {DEFAULT_MAX_REDIRECTS} redirects"
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

    def _check_head(self, response: Response, offset: int, size: int) -> int | None:
        """Check the answer to a range request; return the body length it must have."""
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
            end = min(offset + size, total) - 1
            if first != offset or last != end:
                raise RangeMismatchError(
                    f"asked for bytes {offset}-{offset + size - 1}, got {first}-{last}/{total}"
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
            raise HTTPStatusError(status, response.reason, self.target.redacted())
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
        elif changed:
            self._discard()
            raise RangeMismatchError(
                f"{self.target.redacted()} changed on the server during the download "
                f"(size {self.total} -> {total}, ETag {self.etag} -> {etag}); "
                "the partial file was deleted"
            )

    async def _receive(self, response: Response, offset: int, length: int | None) -> None:
        """Stream the body to disk; commit it only when exactly ``length`` bytes came."""
        file = self._need_file()
        hashes = self._hashes.copy()
        received = 0
        async for chunk in response.aiter_bytes():
            if length is not None and received + len(chunk) > length:
                raise ProtocolError(f"more than the {length} bytes announced for the range")
            file.write(chunk)
            hashes.update(chunk)
            received += len(chunk)
            self.fetched += len(chunk)
            self.done = offset + received
            await self._report()
        if length is not None and received != length:
            raise LinkClosedError(f"range at {offset} ended after {received} of {length} bytes")
        self._hashes = hashes
        self.verified = offset + received
        self.done = self.verified
        if self.total is None:  # a whole-file answer delimited by the link closing
            self.total = self.verified

    # ------------------------------------------------------------------ files
    def _need_file(self) -> IO[bytes]:
        if self._file is None:
            raise RuntimeError("the partial file is not open")
        return self._file

    async def _open(self) -> None:
        """Open ``.part``, resuming from the sidecar's verified prefix when it checks out."""
        record = _read_sidecar(self.sidecar)
        resumable = (
            record is not None
            and record["url"] == self.target.redacted()
            and self.part.is_file()
            and self.part.stat().st_size >= record["verified"]
        )
        if record is not None and resumable:
            verified = record["verified"]
            hashes = await asyncio.to_thread(
                _hash_prefix, self.part, verified, self.options.md5 is not None
            )
            if hashes.sha256.hexdigest() == record["sha256_prefix"]:
                self._file = self.part.open("r+b")
                self._file.seek(verified)
                self._file.truncate()
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
        self._file = self.part.open("w+b")
        self._checkpoint()

    def _start_over(self) -> None:
        file = self._need_file()
        file.seek(0)
        file.truncate()
        self.verified = self.done = self.resumed_from = 0
        self.total = None
        self.etag = self.last_modified = None
        self.confirmed = False
        self._hashes = Hashes.new(md5=self.options.md5 is not None)
        self._progress.restart()

    def _checkpoint(self) -> None:
        """Make the verified prefix durable, then record it in the sidecar."""
        with self._checkpoint_lock:
            self._write_checkpoint(self._need_file())

    def _write_checkpoint(self, file: IO[bytes]) -> None:
        file.flush()
        os.fsync(file.fileno())
        record = {
            "version": SIDECAR_VERSION,
            "url": self.target.redacted(),
            "total": self.total,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "verified": self.verified,
            "range_size": self.options.range_size,
            "sha256_prefix": self._hashes.sha256.hexdigest(),
        }
        temporary = self.sidecar.with_name(self.sidecar.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.sidecar)
        self._last_checkpoint = time.monotonic()

    def _close(self) -> None:
        """Leave the partial file and its sidecar consistent (also on cancellation); with
        nothing verified (a 302 or a 404 at the first range, say) leave neither behind."""
        if not self._finished and self.verified == 0:
            self._discard()
            return
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if not self._finished:
                with self._checkpoint_lock:
                    file.seek(self.verified)
                    file.truncate()
                    self._write_checkpoint(file)
                self.log.info("download.paused", verified=self.verified, total=self.total)
        except OSError as exc:
            self.log.warning("download.checkpoint_failed", error=str(exc))
        finally:
            file.close()

    def _discard(self) -> None:
        """Delete the partial file and its sidecar."""
        file, self._file = self._file, None
        if file is not None:
            file.close()
        self._finished = True
        for leftover in (self.part, self.sidecar):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    async def _finish(self, started: float) -> DownloadResult:
        file = self._need_file()
        size = self.verified
        file.flush()
        await asyncio.to_thread(os.fsync, file.fileno())
        sha256, md5 = self._hashes.hexdigests()
        try:
            check_digests(self.options, sha256, md5, self.target.redacted())
        except IntegrityError as exc:
            self._discard()
            self.log.error("download.integrity_failed", algorithm=exc.algorithm, actual=exc.actual)
            raise
        self._finished = True
        file.close()
        self._file = None
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


# ---------------------------------------------------------------------- helpers


def _content_length(response: Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        raise ProtocolError(f"bad Content-Length {value!r}")
    return int(value)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's record, or None when it is missing or not one of ours."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != SIDECAR_VERSION:
        return None
    checks = {
        "url": str,
        "verified": int,
        "sha256_prefix": str,
    }
    for key, kind in checks.items():
        if not isinstance(record.get(key), kind):
            return None
    for key, kind in (("total", int), ("etag", str), ("last_modified", str)):
        if record.get(key) is not None and not isinstance(record[key], kind):
            return None
    if record["verified"] < 0 or (
        record.get("total") is not None and record["verified"] > record["total"]
    ):
        return None
    record.setdefault("total", None)
    record.setdefault("etag", None)
    record.setdefault("last_modified", None)
    return record


def _hash_prefix(path: Path, size: int, want_md5: bool) -> Hashes:
    """SHA-256 (and MD5) hashers fed with the first ``size`` bytes of ``path``."""
    hashes = Hashes.new(md5=want_md5)
    with path.open("rb") as source:
        hash_file(source.fileno(), size, hashes)
    return hashes
