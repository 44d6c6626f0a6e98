"""The hashes of a downloaded file and their check against the expected digests, shared by
:func:`n58aio.transfer.download` and ``ModemPool.download``."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import IntegrityError

if TYPE_CHECKING:
    from .options import DownloadSettings

__all__ = ["Hashes", "check_digests", "fsync_directory", "hash_file"]

_READ_BLOCK = 1 << 20


@dataclass(slots=True)
class Hashes:
    """SHA-256, and MD5 when it was asked for, of the same bytes."""

    sha256: hashlib._Hash
    md5: hashlib._Hash | None

    @classmethod
    def new(cls, md5: bool) -> Hashes:
        return cls(hashlib.sha256(), hashlib.md5(usedforsecurity=False) if md5 else None)

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        if self.md5 is not None:
            self.md5.update(data)

    def copy(self) -> Hashes:
        return Hashes(self.sha256.copy(), self.md5.copy() if self.md5 is not None else None)

    def hexdigests(self) -> tuple[str, str | None]:
        """The SHA-256 and MD5 (None when not computed) hex digests."""
        return self.sha256.hexdigest(), self.md5.hexdigest() if self.md5 is not None else None


def hash_file(fd: int, size: int, hashes: Hashes) -> int:
    """Feed the first ``size`` bytes of the open file ``fd`` to ``hashes``; return how many
    there were (fewer when the file is shorter)."""
    offset = 0
    while offset < size:
        block = os.pread(fd, min(_READ_BLOCK, size - offset), offset)
        if not block:
            break
        hashes.update(block)
        offset += len(block)
    return offset


def check_digests(options: DownloadSettings, sha256: str, md5: str | None, url: str) -> None:
    """Raise :class:`~n58aio.transfer.IntegrityError` for the first digest that the options
    expect and the file does not have (SHA-256 first)."""
    for algorithm, expected, actual in (
        ("sha256", options.sha256, sha256),
        ("md5", options.md5, md5),
    ):
        if expected is not None and actual != expected:
            raise IntegrityError(algorithm, expected, actual or "", url)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable (not possible everywhere: then skipped)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself stands
    finally:
        os.close(fd)
