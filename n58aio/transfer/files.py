"""Files on the module (``modem.files``): write, read, list, size, free space, rename, delete;
certificates for verified HTTPS; module-side downloads and uploads that start or end at a local
file. Commands of manual v2.0 ch28 (``AT+FSWF``, ``AT+FSRFEX``...).

Every piece is checked: reads by the ``AT+FSRFEX`` checksum (a mismatch is read again once,
then :class:`~n58aio.transfer.ModuleFileError`), writes by the size the module reports
afterwards (and a read-back with ``verify=True``). Names and sizes are validated, and the free
space asked, before any data is written.

The checksum is an XOR of the bytes (manual v2.0 ch28 offers no other): it misses two swapped
bytes, or two bytes damaged in the same bit. Where the content is known (a write's read-back,
``install``, ``read_to`` / ``fetch_url`` with a hash) a SHA-256 of the read-back is compared, and
a read that differs is read again before the file is judged. Where it is not known,
``verify=True`` reads every piece twice and keeps it only when two reads agree.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from ..channel import ModemChannel, Reply
from ..commands import files as fs
from ..commands.files import DISK_SIZE, FileEntry
from ..errors import CommandError, CommandTimeout, InvalidValue, ProtocolError
from ..http import TLSConfig
from ..http.tls import TLSVersion
from ..redact import loggable_line
from .errors import IntegrityError, ModuleFileError
from .localfile import deliver, staging_fd, writes_in_place
from .module_files import MAX_FILE_TRANSFER, FileTransferResult, ModuleGetResult
from .progress import ProgressCallback, ProgressReporter


class FileSystemModem(Protocol):
    """What :class:`ModuleFiles` uses of a modem (:class:`~n58aio.Modem` has it)."""

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger: ...

    @property
    def channel(self) -> ModemChannel: ...

    async def command(
        self, command: str, timeout: float | None = ..., *, data: bytes | None = ...
    ) -> Reply: ...

    async def module_get(
        self, url: str, *, md5: str | None = ..., tls: TLSConfig | None = ..., timeout: float = ...
    ) -> ModuleGetResult: ...

    async def file_upload(
        self,
        url: str,
        filename: str,
        length: int,
        *,
        content_type: str = ...,
        tls: TLSConfig | None = ...,
        timeout: float = ...,
    ) -> FileTransferResult: ...


__all__ = [
    "BLOCK_SIZE",
    "READ_BACKS",
    "READ_CHUNK",
    "VERIFY_READS",
    "WRITE_CHUNK",
    "FileEntry",
    "ModuleFiles",
    "ReadBackResult",
]

READ_CHUNK = 4096
"""Bytes asked for by one ``AT+FSRFEX``."""
WRITE_CHUNK = 16384
"""Bytes sent by one ``AT+FSWF``."""
BLOCK_SIZE = 500
"""The user disk allocates files in blocks of 500 bytes (``AT+FSLS`` counts them)."""
WRITE_TIME_MS = 20000
"""How long the module waits for the data of one ``AT+FSWF``."""
VERIFY_READS = 3
"""Most reads of one piece with ``verify=True`` before its content is judged unreadable."""
READ_BACKS = 2
"""Most whole reads of a file checked against a known hash (a write's read-back, ``read_to``
with a hash) before the file is judged different: a damaged read is read again once."""

Content = bytes | str | os.PathLike[str]
"""File content: bytes, or the path of a local file."""


@dataclass(frozen=True, slots=True)
class ReadBackResult:
    """A module file copied to ``path``: its ``size`` and hashes, and the module-side step
    (:class:`~n58aio.transfer.ModuleGetResult`) when it came from :meth:`ModuleFiles.fetch_url`."""

    name: str
    path: Path
    size: int
    md5: str
    sha256: str
    module_get: ModuleGetResult | None = None


def _blocks(size: int) -> int:
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


def _load(content: Content) -> bytes:
    if isinstance(content, bytes):
        return content
    try:
        return Path(content).read_bytes()
    except OSError as exc:
        raise InvalidValue(f"cannot read local file {os.fspath(content)!r}: {exc}") from exc


class ModuleFiles:
    """The module's file system; get it as ``modem.files``."""

    def __init__(self, modem: FileSystemModem) -> None:
        self.modem = modem
        self.log = modem.log

    # ------------------------------------------------------------------ queries

    async def size(self, name: str) -> int:
        """Size of a module file (``AT+FSFS``); :class:`ModuleFileError` if there is none."""
        command = fs.size(name)
        try:
            reply = await self.modem.command(command)
        except CommandError as exc:
            raise ModuleFileError(f"no file {name!r} on the module", name=name) from exc
        return fs.parse_size(reply.lines, command)

    async def exists(self, name: str) -> bool:
        """True if ``name`` is a file on the module."""
        try:
            await self.size(name)
        except ModuleFileError:
            return False
        return True

    async def free_space(self) -> int:
        """Free bytes of the user disk (``AT+FSLS?``)."""
        reply = await self.modem.command(fs.free_space())
        return fs.parse_free_space(reply.lines, "AT+FSLS?")

    async def list(self, directory: str = "") -> list[FileEntry]:
        """Files (with sizes) and sub-directories of ``directory`` (the root by default)."""
        command = fs.listing(directory)
        try:
            reply = await self.modem.command(command)
        except CommandError as exc:
            raise ModuleFileError(
                f"no directory {directory!r} on the module", name=directory
            ) from exc
        return fs.parse_listing(reply.lines)

    # ------------------------------------------------------------------ changes

    async def delete(self, name: str) -> None:
        """Delete a file (or a directory with its files) (``AT+FSDF``)."""
        try:
            await self.modem.command(fs.delete(name))
        except CommandError as exc:
            raise ModuleFileError(f"cannot delete {name!r}: no such file", name=name) from exc
        self.log.info("files.deleted", name=name)

    async def rename(self, source: str, destination: str) -> None:
        """Rename a file (``AT+FSRN``); an existing ``destination`` is replaced."""
        try:
            await self.modem.command(fs.rename(source, destination))
        except CommandError as exc:
            raise ModuleFileError(
                f"cannot rename {source!r} to {destination!r}", name=source
            ) from exc
        self.log.info("files.renamed", name=source, to=destination)

    async def write(
        self,
        name: str,
        content: Content,
        *,
        verify: bool = False,
        progress: ProgressCallback | None = None,
        chunk_size: int = WRITE_CHUNK,
    ) -> int:
        """Create or replace the module file ``name`` with ``content`` (bytes or a local
        path), in pieces of ``chunk_size`` (``AT+FSWF`` with its ``>`` data phase).

        Raises :class:`~n58aio.errors.InvalidValue` before anything is written for a bad name,
        content over the 1 MB disk or over its free space. Afterwards the size the module
        reports must match; with ``verify`` the file is also read back and compared. Returns
        the size written.
        """
        fs.check_file_name(name)
        data = _load(content)
        if not 1 <= chunk_size <= DISK_SIZE:
            raise InvalidValue(f"chunk_size must be 1 to {DISK_SIZE}")
        await self._check_room(name, len(data))
        reporter = ProgressReporter(progress)
        log = self.log.bind(name=name, size=len(data))
        log.info("files.write.start")
        await reporter.report(0, len(data), force=True)
        offset = 0
        while True:
            piece = data[offset : offset + chunk_size]
            await self._write_piece(name, piece, append=offset > 0)
            offset += len(piece)
            await reporter.report(offset, len(data), force=offset >= len(data))
            if offset >= len(data):
                break
        written = await self.size(name)
        if written != len(data):
            raise ModuleFileError(
                f"the module holds {written} bytes of {name!r}, {len(data)} were written",
                name=name,
            )
        if verify and not await self._holds(name, data, reads=READ_BACKS):
            raise ModuleFileError(f"{name!r} reads back different from what was written", name=name)
        log.info("files.write.done", verified=verify)
        return len(data)

    async def _check_room(self, name: str, size: int) -> None:
        if size > DISK_SIZE:
            raise InvalidValue(f"{size} bytes do not fit the module's {DISK_SIZE}-byte disk")
        free = await self.free_space()
        old = 0
        if await self.exists(name):
            old = await self.size(name)
        needed = _blocks(size) - _blocks(old)
        if needed > free:
            raise InvalidValue(
                f"{name!r} needs {needed} bytes of the module's disk and {free} are free; "
                "delete files first (modem.files.delete)"
            )

    async def _write_piece(self, name: str, piece: bytes, *, append: bool) -> None:
        command = fs.write(name, len(piece), append=append, timeout_ms=WRITE_TIME_MS)
        channel = self.modem.channel
        timeout = channel.default_timeout(command, piece) + WRITE_TIME_MS / 1000
        try:
            await self.modem.command(command, timeout=timeout, data=piece or None)
        except CommandError as exc:
            raise ModuleFileError(
                f"the module refused to write {name!r} ({loggable_line(exc.text)})", name=name
            ) from exc

    # ------------------------------------------------------------------ reads

    async def read(
        self,
        name: str,
        *,
        verify: bool = False,
        progress: ProgressCallback | None = None,
        chunk_size: int = READ_CHUNK,
    ) -> bytes:
        """The content of the module file ``name``, read in checked pieces.

        The module's checksum misses some damage (two swapped bytes); with ``verify`` every
        piece is read until two reads agree (twice the commands; :data:`VERIFY_READS` at most,
        then :class:`~n58aio.transfer.ModuleFileError`).
        """
        parts: list[bytes] = []
        async for piece in self._pieces(name, progress, chunk_size, verify=verify):
            parts.append(piece)
        return b"".join(parts)

    async def read_to(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        md5: str | None = None,
        sha256: str | None = None,
        progress: ProgressCallback | None = None,
        chunk_size: int = READ_CHUNK,
        verify: bool = False,
    ) -> ReadBackResult:
        """Copy the module file ``name`` to the local file ``path`` (written as ``path.part``
        and renamed when complete and verified against ``md5`` / ``sha256`` when given).

        A copy that does not match a given hash is read again (the damage may be the read's,
        not the file's), :data:`READ_BACKS` times at most, then
        :class:`~n58aio.transfer.IntegrityError`. ``verify`` as for :meth:`read`. A ``path``
        that exists and is not a regular file (``/dev/null``, a FIFO: see
        :mod:`~n58aio.transfer.localfile`) is never renamed over: the copy waits in an anonymous
        temporary file and is written into it once verified.
        """
        target = Path(path)
        in_place = writes_in_place(target)
        partial = target.with_name(target.name + ".part")
        staging = staging_fd() if in_place else -1
        attempts = READ_BACKS if md5 is not None or sha256 is not None else 1
        try:
            for attempt in range(1, attempts + 1):
                md5_hash = hashlib.md5(usedforsecurity=False)
                sha_hash = hashlib.sha256()
                size = 0
                if in_place:
                    os.ftruncate(staging, 0)
                    os.lseek(staging, 0, os.SEEK_SET)
                with (
                    os.fdopen(staging, "wb", closefd=False) if in_place else partial.open("wb")
                ) as handle:
                    async for piece in self._pieces(name, progress, chunk_size, verify=verify):
                        handle.write(piece)
                        md5_hash.update(piece)
                        sha_hash.update(piece)
                        size += len(piece)
                try:
                    for algorithm, expected, actual in (
                        ("md5", md5, md5_hash.hexdigest()),
                        ("sha256", sha256, sha_hash.hexdigest()),
                    ):
                        if expected is not None and expected.lower() != actual:
                            raise IntegrityError(
                                algorithm, expected.lower(), actual, f"module:{name}"
                            )
                except IntegrityError as exc:
                    if attempt == attempts:
                        raise
                    self.log.warning(
                        "files.read_to.differs", name=name, algorithm=exc.algorithm, attempt=attempt
                    )
                    continue
                break
            if in_place:
                staging, delivered = -1, staging
                await deliver(delivered, size, target)  # closes it
            else:
                partial.replace(target)
        finally:
            if in_place:
                if staging >= 0:
                    os.close(staging)
            else:
                partial.unlink(missing_ok=True)
        self.log.info("files.read_to.done", name=name, path=str(target), size=size)
        return ReadBackResult(name, target, size, md5_hash.hexdigest(), sha_hash.hexdigest())

    async def _pieces(
        self, name: str, progress: ProgressCallback | None, chunk_size: int, *, verify: bool
    ) -> AsyncIterator[bytes]:
        if chunk_size < 1:
            raise InvalidValue("chunk_size must be >= 1")
        fs.check_file_name(name)
        total = await self.size(name)
        reporter = ProgressReporter(progress)
        await reporter.report(0, total, force=True)
        position = 0
        while position < total:
            count = min(chunk_size, total - position)
            if verify:
                yield await self._agreed_piece(name, count, position)
            else:
                yield await self._read_piece(name, count, position)
            position += count
            await reporter.report(position, total, force=position >= total)

    async def _agreed_piece(self, name: str, count: int, position: int) -> bytes:
        """A piece read until two reads agree (:data:`VERIFY_READS` at most)."""
        seen = [await self._read_piece(name, count, position)]
        while len(seen) < VERIFY_READS:
            again = await self._read_piece(name, count, position)
            if again in seen:
                return again
            seen.append(again)
            self.log.warning("files.read.differs", name=name, position=position, reads=len(seen))
        raise ModuleFileError(
            f"reading {name!r} at {position}: {len(seen)} reads gave different bytes", name=name
        )

    async def _holds(self, name: str, data: bytes, *, reads: int) -> bool:
        """Whether a read-back of ``name`` has the SHA-256 of ``data``: read again up to
        ``reads`` times while it differs (a damaged read is no damaged file)."""
        expected = hashlib.sha256(data).digest()
        for attempt in range(1, reads + 1):
            if hashlib.sha256(await self.read(name)).digest() == expected:
                return True
            self.log.warning("files.read_back.differs", name=name, attempt=attempt)
        return False

    async def _read_piece(self, name: str, count: int, position: int) -> bytes:
        command = fs.read(name, count, position)
        for attempt in (1, 2):
            try:
                reply = await self.modem.command(command)
                data, check = fs.parse_read(reply.lines)
            except CommandError as exc:
                raise ModuleFileError(
                    f"the module cannot read {name!r} ({loggable_line(exc.text)})", name=name
                ) from exc
            except (ProtocolError, CommandTimeout) as exc:
                problem = str(exc)
            else:
                if len(data) == count and fs.checksum_matches(data, check):
                    return data
                problem = f"checksum {check!r} does not match {len(data)} bytes"
            self.log.warning(
                "files.read.bad_piece",
                name=name,
                position=position,
                attempt=attempt,
                problem=problem,
            )
        raise ModuleFileError(f"reading {name!r} at {position} failed twice: {problem}", name=name)

    # ------------------------------------------------------------------ certificates

    async def install_tls(
        self,
        *,
        ca: Content | None = None,
        client_cert: Content | None = None,
        client_key: Content | None = None,
        names: Mapping[str, str] | None = None,
        version: TLSVersion = "TLS1.2",
    ) -> TLSConfig:
        """Upload a CA certificate and optionally a client certificate and key (local paths
        or PEM bytes) and return the :class:`~n58aio.TLSConfig` that uses them.

        A path keeps its file name on the module; bytes go to ``ca.pem``, ``cc.pem`` and
        ``ck.pem`` (``names`` maps ``"ca"``, ``"client_cert"``, ``"client_key"`` to others).
        A file already there with the same content is not written again. The content never
        reaches a log or an error message.
        """
        if ca is None:
            raise InvalidValue("install_tls needs the CA certificate (ca=...) to verify servers")
        if (client_cert is None) != (client_key is None):
            raise InvalidValue("client_cert and client_key go together")
        defaults = {"ca": "ca.pem", "client_cert": "cc.pem", "client_key": "ck.pem"}
        chosen = dict(names or {})
        installed: dict[str, str] = {}
        items = {"ca": ca, "client_cert": client_cert, "client_key": client_key}
        plans: list[tuple[str, str, bytes]] = []
        for role, content in items.items():
            if content is None:
                continue
            default = defaults[role] if isinstance(content, bytes) else Path(content).name
            name = chosen.get(role, default)
            fs.check_file_name(name)
            data = _load(content)
            if not data.strip():
                raise InvalidValue(f"the {role} file is empty")
            plans.append((role, name, data))
        for role, name, data in plans:
            installed[role] = name
            written = await self.install(name, data)
            self.log.info("files.tls.installed", role=role, name=name, written=written)
        return TLSConfig(
            version=version,
            ca_cert=installed["ca"],
            client_cert=installed.get("client_cert"),
            client_key=installed.get("client_key"),
        )

    async def install(self, name: str, content: Content) -> bool:
        """Make the module file ``name`` hold ``content`` (bytes or a local path): written and
        read back unless it already has exactly that content. True if it was written."""
        fs.check_file_name(name)
        data = _load(content)
        if await self._same_content(name, data):
            return False
        await self.write(name, data, verify=True)
        return True

    async def _same_content(self, name: str, data: bytes) -> bool:
        try:
            if await self.size(name) != len(data):
                return False
            return await self._holds(name, data, reads=1)  # a damaged read: written again
        except ModuleFileError:
            return False

    # ------------------------------------------------------------------ module-side transfers

    async def fetch_url(
        self,
        url: str,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        md5: str | None = None,
        sha256: str | None = None,
        tls: TLSConfig | None = None,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
        keep: bool = True,
        verify: bool = False,
    ) -> ReadBackResult:
        """Have the module download ``url`` (:meth:`Modem.module_get`, checking ``md5`` itself
        when given), then read the file back to the local ``path``, checked piece by piece and
        against ``md5`` and ``sha256``. ``name`` is the module file the download lands in (the
        URL's last path segment by default); ``keep=False`` deletes it afterwards, also when
        the read-back fails. Without a hash, ``verify`` reads every piece until two reads agree
        (:meth:`read`); with one, a copy that does not match it is read again.
        """
        module_name = name or _url_basename(url)
        fs.check_file_name(module_name)
        result = await self.modem.module_get(url, md5=md5, tls=tls, timeout=timeout)
        try:
            back = await self.read_to(
                module_name, path, md5=md5, sha256=sha256, progress=progress, verify=verify
            )
        finally:
            if not keep:
                await self.delete(module_name)
        return ReadBackResult(
            back.name, back.path, back.size, back.md5, back.sha256, module_get=result
        )

    async def post_file(
        self,
        path: str | os.PathLike[str],
        url: str,
        *,
        name: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        tls: TLSConfig | None = None,
        timeout: float = 120.0,
        progress: ProgressCallback | None = None,
    ) -> FileTransferResult:
        """Upload the local file ``path`` to the module (as ``name``, by default its own file
        name), then have the module POST it to ``url`` (:meth:`Modem.file_upload`)."""
        local = Path(path)
        data = _load(local)
        module_name = name or local.name
        fs.check_file_name(module_name)
        if not 1 <= len(data) <= MAX_FILE_TRANSFER:
            raise InvalidValue(
                f"a module POST takes 1 to {MAX_FILE_TRANSFER} bytes, not {len(data)}"
            )
        await self.write(module_name, data, progress=progress)
        return await self.modem.file_upload(
            url, module_name, len(data), content_type=content_type, tls=tls, timeout=timeout
        )


def _url_basename(url: str) -> str:
    path = url.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0]
    segment = path.rsplit("/", 1)[-1] if "/" in path else ""
    if not segment:
        raise InvalidValue(f"cannot tell the module file name from {url!r}; pass name=...")
    return segment
