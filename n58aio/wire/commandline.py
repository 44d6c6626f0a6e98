"""Building AT command lines safely: nothing a caller passes can break out of its line."""

from __future__ import annotations

from ..errors import InvalidValue

__all__ = ["MAX_COMMAND_LENGTH", "check_text", "encode_command", "quote"]

MAX_COMMAND_LENGTH = 2200
"""Longest command line written (``AT+HTTPPARA=url,`` plus a 2048-byte URL fits)."""

_FORBIDDEN_NAMES = {0x00: "NUL", 0x0D: "CR", 0x0A: "LF", 0x1A: "Ctrl-Z", 0x1B: "ESC", 0x7F: "DEL"}


def check_text(value: str, what: str, *, max_length: int | None = None) -> str:
    """Refuse a value that would break the AT line; return it unchanged otherwise.

    Control bytes (CR, LF, Ctrl-Z, ESC, NUL and the rest of C0, and DEL) and non-ASCII text are
    refused with :class:`~n58aio.errors.InvalidValue`, as is a value over ``max_length`` bytes.
    """
    if not (value.isascii() and value.isprintable()):  # 0x20 to 0x7E only, checked in C
        _refuse_characters(value, what)
    if max_length is not None and len(value) > max_length:
        raise InvalidValue(f"{what} is {len(value)} bytes; the module accepts at most {max_length}")
    return value


def _refuse_characters(value: str, what: str) -> None:
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            name = _FORBIDDEN_NAMES.get(code, f"control byte 0x{code:02x}")
            raise InvalidValue(f"{what} contains {name}, which would break the AT command line")
        if code > 0x7E:
            raise InvalidValue(f"{what} contains non-ASCII character {char!r}; percent-encode it")


def quote(value: str, what: str) -> str:
    """Return ``value`` in double quotes for a string parameter, refusing embedded quotes."""
    check_text(value, what)
    if '"' in value:
        raise InvalidValue(f"{what} contains a double quote, which AT strings cannot hold")
    return f'"{value}"'


def encode_command(command: str) -> bytes:
    """Validate a whole command line and return its bytes with the terminating CR."""
    check_text(command, "command", max_length=MAX_COMMAND_LENGTH)
    if not command[:2].upper() == "AT":
        raise InvalidValue(f"command must start with AT: {command!r}")
    return command.encode("ascii") + b"\r"
