"""Local output paths: a regular file is replaced atomically, anything else is written in place.

A download, a module file read (``read_to``) or ``n58aio get -o`` writes a temporary file and
renames it onto the target once complete, so that a failure leaves an existing file alone. A
target that exists and is not a regular file (``/dev/null``, another character or block device,
a FIFO, a socket, a terminal) must not be renamed over: the rename replaces the device with a
regular file (``-o /dev/null`` run as root replaced the machine's ``/dev/null``). Such a target
is opened and written in place, as curl does. A directory is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..errors import InvalidValue

__all__ = ["atomic_output", "deliver", "staging_fd", "writes_in_place"]

_COPY_BLOCK = 1 << 20

READER_POLL = 0.05
"""Seconds between two attempts to open a FIFO that has no reader yet."""


def writes_in_place(path: Path) -> bool:
    """True when ``path`` exists and is not a regular file (then it is written in place, never
    renamed over); False for a regular file or a missing path (a symbolic link counts as what it
    points to). :class:`~n58aio.errors.InvalidValue` for a directory: there is nothing to write."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISDIR(mode):
        raise InvalidValue(f"{path} is a directory, not a file to write")
    return not stat.S_ISREG(mode)


def staging_fd() -> int:
    """A read-write descriptor on an anonymous temporary file (in the system's temporary
    directory, already unlinked): where the bytes for an in-place target wait until complete
    and verified, since a device or FIFO can be neither rewound nor read back."""
    fd, name = tempfile.mkstemp(prefix="n58aio-", suffix=".part")
    os.unlink(name)
    return fd


async def deliver(fd: int, size: int, path: Path) -> None:
    """Copy the first ``size`` bytes of the staging file ``fd`` into ``path``, written in place;
    ``fd`` is closed in every case. A FIFO without a reader is opened again every
    :data:`READER_POLL` seconds (cancellable, where a blocking open would wait for ever); the
    copy runs in a thread that owns both descriptors (a slow reader blocks it, not the loop)."""
    try:
        out = _open_in_place(path)
        while out is None:
            await asyncio.sleep(READER_POLL)
            out = _open_in_place(path)
    except BaseException:
        os.close(fd)
        raise
    await asyncio.to_thread(_copy, fd, size, out)


def _open_in_place(path: Path) -> int | None:
    """A blocking write descriptor on ``path``, or None while it is a FIFO without a reader."""
    try:
        out = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(path.stat().st_mode):
            return None
        raise
    os.set_blocking(out, True)
    return out


def _copy(fd: int, size: int, out: int) -> None:
    try:
        offset = 0
        while offset < size:
            block = os.pread(fd, min(_COPY_BLOCK, size - offset), offset)
            if not block:
                raise OSError(f"the staged copy ends at {offset} of {size} bytes")
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
            offset += len(block)
    finally:
        os.close(fd)
        os.close(out)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A file to write ``path``'s new content to: a temporary file beside it that takes its
    name only when the block ends without error (an existing file is left alone after a
    failure), or ``path`` itself when :func:`writes_in_place` (the bytes go through as they
    are written)."""
    if writes_in_place(path):
        with path.open("wb") as file:
            yield file
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
