"""Command lines and replies of the module's file system (manual v2.0 ch28), validated."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidValue, ProtocolError
from ..redact import loggable_lines
from ..wire import check_text

__all__ = [
    "DISK_SIZE",
    "MAX_NAME",
    "MAX_WRITE_TIME_MS",
    "FileEntry",
    "check_file_name",
    "checksum_matches",
    "delete",
    "free_space",
    "listing",
    "parse_free_space",
    "parse_listing",
    "parse_read",
    "parse_size",
    "read",
    "rename",
    "size",
    "write",
]

DISK_SIZE = 1 << 20
"""The user disk holds 1 MB of files."""
MAX_NAME = 120
"""Longest file name (path included) the commands take."""
MAX_WRITE_TIME_MS = 240000
"""Longest ``<time>`` of ``AT+FSWF``, in milliseconds."""

_FORBIDDEN = ',;"'
_READ_HEADER = re.compile(r"^\+FSRFEX: ?(\d+), ?([0-9A-Fa-f]*),", re.S)
_NUMBER_REPLY = re.compile(r"^\+(FSFS|FSLS)\s*:\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One entry of a listing: a file with its ``size``, or a directory (``size`` None)."""

    name: str
    size: int | None

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return self.size is None


def check_file_name(name: str) -> str:
    """Refuse a name the module cannot take: empty, over 120 characters, with ``,`` ``;``
    ``"`` or control bytes, or non-ASCII. Returns it unchanged."""
    check_text(name, "module file name", max_length=MAX_NAME)
    if not name.strip(" /"):
        raise InvalidValue("module file name must not be empty")
    bad = sorted({char for char in name if char in _FORBIDDEN})
    if bad:
        raise InvalidValue(f"module file name {name!r} contains {' '.join(bad)}")
    if any(part == ".." for part in name.split("/")):
        raise InvalidValue(f"module file name {name!r} leaves the user directory")
    return name


def write(name: str, size: int, *, append: bool, timeout_ms: int) -> str:
    """``AT+FSWF="<name>",<mode>,<size>,<time>`` (mode 1 appends)."""
    check_file_name(name)
    if not 0 <= size <= DISK_SIZE:
        raise InvalidValue(f"one write takes 0 to {DISK_SIZE} bytes, not {size}")
    if not 0 <= timeout_ms <= MAX_WRITE_TIME_MS:
        raise InvalidValue(f"the write timeout is 0 to {MAX_WRITE_TIME_MS} ms")
    return f'AT+FSWF="{name}",{int(append)},{size},{timeout_ms}'


def read(name: str, size: int, position: int = 0) -> str:
    """``AT+FSRFEX="<name>",1,<mode>,<size>[,<position>]`` (XOR checksum)."""
    check_file_name(name)
    if size < 1 or position < 0:
        raise InvalidValue("a read takes a size >= 1 and a position >= 0")
    if position:
        return f'AT+FSRFEX="{name}",1,1,{size},{position}'
    return f'AT+FSRFEX="{name}",1,0,{size}'


def size(name: str) -> str:
    """``AT+FSFS="<name>"``."""
    return f'AT+FSFS="{check_file_name(name)}"'


def delete(name: str) -> str:
    """``AT+FSDF="<name>"``."""
    return f'AT+FSDF="{check_file_name(name)}"'


def rename(source: str, destination: str) -> str:
    """``AT+FSRN="<source>","<destination>"``."""
    return f'AT+FSRN="{check_file_name(source)}","{check_file_name(destination)}"'


def free_space() -> str:
    """``AT+FSLS?``."""
    return "AT+FSLS?"


def listing(directory: str = "") -> str:
    """``AT+FSLIST?`` for the root, ``AT+FSLIST=<directory>`` for a sub-directory."""
    if not directory.strip("/"):
        return "AT+FSLIST?"
    check_file_name(directory)
    return f"AT+FSLIST=/{directory.strip('/')}"


def parse_read(lines: list[str]) -> tuple[bytes, str]:
    """The content and checksum field of a ``+FSRFEX: <len>,<checksum>,<content>`` reply."""
    for line in lines:
        match = _READ_HEADER.match(line)
        if match is None:
            continue
        data = line[match.end() :].encode("latin-1")
        if len(data) != int(match.group(1)):
            raise ProtocolError(f"+FSRFEX announced {match.group(1)} bytes, {len(data)} came")
        return data, match.group(2)
    raise ProtocolError("the read gave no +FSRFEX line")


def checksum_matches(data: bytes, field: str) -> bool:
    """Whether ``field`` is the XOR checksum of ``data``.

    The manual does not say how the value is written; accepted are the XOR of the bytes and
    the XOR of big-endian 16-bit words, each in decimal or hexadecimal.
    """
    if not field:
        return False
    byte_xor = 0
    for byte in data:
        byte_xor ^= byte
    word_xor = 0
    padded = data + b"\x00" * (len(data) % 2)
    for index in range(0, len(padded), 2):
        word_xor ^= (padded[index] << 8) | padded[index + 1]
    readings = {int(field, 16)}
    if field.isdigit():
        readings.add(int(field))
    return bool(readings & {byte_xor, word_xor})


def parse_size(lines: list[str], name: str) -> int:
    """The number of a ``+FSFS: <n>`` or ``+FSLS: <n>`` reply."""
    for line in lines:
        match = _NUMBER_REPLY.match(line.strip())
        if match is not None:
            return int(match.group(2))
    raise ProtocolError(f"no number in the reply for {name}: {loggable_lines(lines)}")


parse_free_space = parse_size


def parse_listing(lines: list[str]) -> list[FileEntry]:
    """Entries of ``AT+FSLIST``: ``<name>,<size>`` or ``+FSLIST: <name>,<size>`` lines for
    files, ``/<dir>`` lines for directories. Names lose their leading ``/``."""
    entries: list[FileEntry] = []
    for raw in lines:
        line = raw.strip()
        if line.upper().startswith("+FSLIST:"):
            line = line[len("+FSLIST:") :].strip()
        if not line:
            continue
        name, comma, count = line.rpartition(",")
        if comma and count.strip().isdigit():
            entries.append(FileEntry(name.strip().lstrip("/"), int(count)))
        else:
            entries.append(FileEntry(line.lstrip("/"), None))
    return entries
