"""The file system commands of the emulated N58 (manual v2.0 ch28).

``AT+FSWF`` (write, with a ``>`` data phase and ``+FSWF: Timeout!``), ``AT+FSRF`` and
``AT+FSRFEX`` (read, the latter with an XOR checksum), ``AT+FSDF`` (delete), ``AT+FSLIST``
(list), ``AT+FSFS`` (size), ``AT+FSLS`` (free space), ``AT+FSRN`` (rename), ``AT+FSFAT``
(format). The chapter answers every failure with a plain ``ERROR``, and so does the emulator.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from . import framing
from .core import ModuleCore
from .filesystem import CAPACITY, MAX_NAME, FileSystemError
from .syntax import Command, split_args

__all__ = ["MAX_WRITE", "MAX_WRITE_TIME_MS", "FileCommands", "xor_checksum"]

MAX_WRITE = CAPACITY
"""Largest ``<size>`` of one ``AT+FSWF``: 1024*1024 bytes."""
MAX_WRITE_TIME_MS = 240000
"""Largest ``<time>`` of ``AT+FSWF`` (the chapter's range; one of its examples says 60000)."""
_OTHER_DISKS = ("/sdcard0", "/dataflash")


def xor_checksum(data: bytes) -> int:
    """The ``AT+FSRFEX`` checksum (mode 1): every byte XORed together."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def _number(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _name(text: str) -> str | None:
    """A usable file name: 1 to 120 characters, on the user disk."""
    if not text or len(text) > MAX_NAME or any(ord(char) < 0x20 for char in text):
        return None
    if text.startswith(_OTHER_DISKS):
        return None  # no SD card or external flash on the emulated module
    return text


class FileCommands:
    """Handlers of the ch28 commands, working on the module's :class:`~.filesystem.ModuleFS`."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Callable[[Command], Awaitable[None]]]:
        """The entries for the module's handler table."""
        return {
            "+FSWF": self.write,
            "+FSRF": functools.partial(self.read, False),
            "+FSRFEX": functools.partial(self.read, True),
            "+FSDF": self.delete,
            "+FSLIST": self.listing,
            "+FSFS": self.size,
            "+FSLS": self.free,
            "+FSRN": self.rename,
            "+FSFAT": self.format,
        }

    def _ok(self, *lines: str) -> None:
        self.module._ok(*lines)

    def _error(self) -> None:
        self.module._error()

    async def write(self, cmd: Command) -> None:
        """``AT+FSWF=<name>,<mode>,<size>,<time>``: ``>``, exactly ``<size>`` bytes, ``OK``."""
        module = self.module
        args = split_args(cmd.args) if cmd.kind == "set" else []
        if len(args) != 4:
            self._error()
            return
        name = _name(args[0])
        mode = _number(args[1], 0, 1)
        size = _number(args[2], 0, MAX_WRITE)
        time_ms = _number(args[3], 0, MAX_WRITE_TIME_MS)
        if name is None or mode is None or size is None or time_ms is None:
            self._error()
            return
        try:
            fits = module.fs.fits(name, size, append=mode == 1)
        except FileSystemError:
            fits = False
        if not fits:
            self._error()  # a bad name, or more than the free space: refused before the prompt
            return
        data = b""
        if size:
            timeout = time_ms / 1000 if time_ms else None
            received = await module._read_data(size, timeout, expired="+FSWF: Timeout!")
            if received is None:
                return
            data = received
        try:
            module.fs.write(name, data, append=mode == 1)
        except FileSystemError as exc:
            module.log.info("file write failed", name=name, error=str(exc))
            self._error()
            return
        module.log.info("file written", name=name, size=len(data), append=mode == 1)
        self._ok()

    async def read(self, checksum: bool, cmd: Command) -> None:
        """``AT+FSRF=<name>,<mode>,<size>[,<position>]`` or ``AT+FSRFEX=<name>,1,<mode>,...``."""
        module = self.module
        args = split_args(cmd.args) if cmd.kind == "set" else []
        if checksum:
            if len(args) < 2 or _number(args[1], 1, 1) is None:
                self._error()
                return
            del args[1]
        if len(args) not in (3, 4):
            self._error()
            return
        name = _name(args[0])
        mode = _number(args[1], 0, 1)
        size = _number(args[2], 1 if checksum else 0, 0x40000000)
        position: int | None = 0
        if len(args) == 4:  # a position goes with mode 1 only; FSRFEX's is not 0
            position = _number(args[3], int(checksum), 0x40000000) if mode == 1 else None
        elif mode == 1:
            position = None
        if name is None or mode is None or size is None or position is None:
            self._error()
            return
        try:
            content = module.fs.read(name)
        except FileSystemError:
            self._error()
            return
        if position > len(content) or size > len(content) - position:
            self._error()
            return
        data = content[position : position + size]
        check = xor_checksum(data)
        if data and module.faults.take_read_corruption():
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
            module.log.info("file read corrupted", name=name, position=position + middle)
        head = f"+FSRFEX: {len(data)},{check}," if checksum else f"+FSRF: {len(data)},"
        final = module._result(framing.OK_AFTER_INFO, b"0")  # no empty line, as captured
        module._reply(b"\r\n" + head.encode("ascii") + data + b"\r\n" + final)

    async def delete(self, cmd: Command) -> None:
        """``AT+FSDF=<name>``: a file, or a directory with its files."""
        name = _name(split_args(cmd.args)[0]) if cmd.kind == "set" else None
        if name is None:
            self._error()
            return
        try:
            self.module.fs.delete(name)
        except FileSystemError:
            self._error()
            return
        self._ok()

    async def listing(self, cmd: Command) -> None:
        """``AT+FSLIST?``: ``<name>,<size>`` lines and ``/<dir>`` lines of the root;
        ``AT+FSLIST=<dir>``: ``+FSLIST: /<dir>/<name>,<size>`` lines."""
        fs = self.module.fs
        if cmd.kind == "query":
            directory, prefixed = "", False
        elif cmd.kind == "set":
            directory, prefixed = split_args(cmd.args)[0], True
            if _name(directory) is None:
                self._error()
                return
        else:
            self._error()
            return
        try:
            entries = fs.listing(directory)
        except FileSystemError:
            self._error()
            return
        lines: list[str] = []
        for name, size in entries:
            if size is None:
                lines.append(f"/{name}")
            elif prefixed:
                lines.append(f"+FSLIST: /{name},{size}")
            else:
                lines.append(f"{name},{size}")
        self._ok(*lines)

    async def size(self, cmd: Command) -> None:
        """``AT+FSFS=<name>``: ``+FSFS: <size>``."""
        name = _name(split_args(cmd.args)[0]) if cmd.kind == "set" else None
        if name is None:
            self._error()
            return
        try:
            size = self.module.fs.size(name)
        except FileSystemError:
            self._error()
            return
        self._ok(f"+FSFS: {size}")

    async def free(self, cmd: Command) -> None:
        """``AT+FSLS?``: ``+FSLS: <free bytes>`` of the user disk."""
        if cmd.kind == "query" or (cmd.kind == "set" and not split_args(cmd.args)[0].strip("/")):
            self._ok(f"+FSLS: {self.module.fs.free()}")
        elif cmd.kind == "set":
            self._reply_line("+FSLS: DiskInfo Not Right!")
        else:
            self._error()

    def _reply_line(self, text: str) -> None:
        self.module._reply(framing.line(text))

    async def rename(self, cmd: Command) -> None:
        """``AT+FSRN=<source>,<destination>``: an existing destination is replaced."""
        args = split_args(cmd.args) if cmd.kind == "set" else []
        names = [_name(arg) for arg in args]
        if len(names) != 2 or names[0] is None or names[1] is None:
            self._error()
            return
        try:
            self.module.fs.rename(names[0], names[1])
        except FileSystemError:
            self._error()
            return
        self._ok()

    async def format(self, cmd: Command) -> None:
        """``AT+FSFAT``: erase the user disk."""
        if cmd.kind != "exec":
            self._error()
            return
        try:
            self.module.fs.format()
        except FileSystemError:
            self._error()
            return
        self._ok()
