"""The module file system: a directory on the host, with names confined to it.

Like the N58's user disk (manual v2.0 ch28) it holds ``capacity`` bytes (1 MB) counted in
500-byte blocks, and takes names of up to 120 characters relative to the user directory.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["BLOCK_SIZE", "CAPACITY", "MAX_NAME", "DiskFullError", "FileSystemError", "ModuleFS"]

CAPACITY = 1 << 20
"""Size of the user disk: 1 MB."""
BLOCK_SIZE = 500
"""Files take whole blocks of this many bytes."""
MAX_NAME = 120
"""Longest file name or path the file commands take."""


class FileSystemError(Exception):
    """A name escapes the file system root, or a file is missing or unreadable."""


class DiskFullError(FileSystemError):
    """A write would take more than the free space of the user disk."""


class ModuleFS:
    """Files of the emulated module, stored under ``root`` (``capacity`` bytes of disk)."""

    def __init__(self, root: Path, capacity: int = CAPACITY) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity

    def path(self, name: str) -> Path:
        """Host path of a module file name (relative to the root; ``/`` separated)."""
        parts = PurePosixPath(name.replace("\\", "/").lstrip("/")).parts
        if not parts or any(part in ("..", "") for part in parts):
            raise FileSystemError(f"invalid file name {name!r}")
        candidate = self.root.joinpath(*parts).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise FileSystemError(f"file name {name!r} leaves the file system")
        return candidate

    def exists(self, name: str) -> bool:
        """True if ``name`` is a regular file."""
        try:
            return self.path(name).is_file()
        except FileSystemError:
            return False

    def read(self, name: str) -> bytes:
        """Content of a file."""
        try:
            return self.path(name).read_bytes()
        except OSError as exc:
            raise FileSystemError(str(exc)) from exc

    def write(self, name: str, data: bytes, *, append: bool = False) -> Path:
        """Create or replace (or extend, with ``append``) a file; returns its host path.

        Raises :class:`DiskFullError` when the disk has no room for it.
        """
        target = self.path(name)
        if not self.fits(name, len(data), append=append):
            raise DiskFullError(f"no room for {len(data)} more bytes in {name!r}")
        if append:
            try:
                with target.open("ab") as handle:
                    handle.write(data)
            except OSError as exc:
                raise FileSystemError(str(exc)) from exc
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise FileSystemError(str(exc)) from exc
        return target

    def fits(self, name: str, size: int, *, append: bool = False) -> bool:
        """True if writing ``size`` bytes to ``name`` (after its content, with ``append``)
        takes no more blocks than are free."""
        target = self.path(name)
        old = target.stat().st_size if target.is_file() else 0
        new = old + size if append else size
        return _blocks(new) - _blocks(old) <= self.free() // BLOCK_SIZE

    def size(self, name: str) -> int:
        """Size of a file in bytes."""
        target = self.path(name)
        if not target.is_file():
            raise FileSystemError(f"no file {name!r}")
        return target.stat().st_size

    def used(self) -> int:
        """Bytes taken on the disk: every file in whole blocks."""
        return sum(_blocks(p.stat().st_size) for p in self.root.rglob("*") if p.is_file()) * (
            BLOCK_SIZE
        )

    def free(self) -> int:
        """Free bytes on the disk (a multiple of the block size)."""
        free = max(0, self.capacity - self.used())
        return free - free % BLOCK_SIZE

    def listing(self, directory: str = "") -> list[tuple[str, int | None]]:
        """Entries of a directory, sorted: ``(name, size)`` for files, ``(name, None)`` for
        sub-directories; names relative to the root, ``/``-separated."""
        base = self.root if not directory.strip("/") else self.path(directory)
        if not base.is_dir():
            raise FileSystemError(f"no directory {directory!r}")
        entries: list[tuple[str, int | None]] = []
        for child in sorted(base.iterdir()):
            name = child.relative_to(self.root).as_posix()
            entries.append((name, child.stat().st_size if child.is_file() else None))
        return entries

    def delete(self, name: str) -> None:
        """Remove a file, or a directory with everything in it."""
        target = self.path(name)
        try:
            if target.is_dir() and target != self.root:
                shutil.rmtree(target)
            elif target.is_file():
                target.unlink()
            else:
                raise FileSystemError(f"no file {name!r}")
        except OSError as exc:
            raise FileSystemError(str(exc)) from exc

    def rename(self, source: str, destination: str) -> None:
        """Rename a file; an existing destination is replaced."""
        src, dst = self.path(source), self.path(destination)
        if not src.is_file() or dst.is_dir():
            raise FileSystemError(f"cannot rename {source!r} to {destination!r}")
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.replace(dst)
        except OSError as exc:
            raise FileSystemError(str(exc)) from exc

    def format(self) -> None:
        """Erase every file and directory."""
        for child in list(self.root.iterdir()):
            self.delete(child.relative_to(self.root).as_posix())

    def md5(self, name: str) -> str:
        """Lower-case hex MD5 of a file."""
        return hashlib.md5(self.read(name), usedforsecurity=False).hexdigest()

    @staticmethod
    def is_zip(data: bytes) -> bool:
        """True if ``data`` starts like a zip archive."""
        return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def extract_zip(self, data: bytes) -> list[str]:
        """Extract a zip archive into the file system; returns the names written.

        Raises :class:`FileSystemError` for a corrupt archive or a member name leaving the root.
        """
        written: list[str] = []
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if archive.testzip() is not None:
                    raise FileSystemError("corrupt archive member")
                members = archive.infolist()
                targets = [(member, self.path(member.filename)) for member in members]
                for member, target in targets:
                    if member.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(member))
                    written.append(member.filename)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise FileSystemError(f"bad archive: {exc}") from exc
        return written


def _blocks(size: int) -> int:
    return -(-size // BLOCK_SIZE)
