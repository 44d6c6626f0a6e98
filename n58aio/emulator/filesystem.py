"""The module file system: a directory on the host, with names confined to it."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["FileSystemError", "ModuleFS"]


class FileSystemError(Exception):
    """A name escapes the file system root, or a file is missing or unreadable."""


class ModuleFS:
    """Files of the emulated module, stored under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

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

    def write(self, name: str, data: bytes) -> Path:
        """Create or replace a file; returns its host path."""
        target = self.path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise FileSystemError(str(exc)) from exc
        return target

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
