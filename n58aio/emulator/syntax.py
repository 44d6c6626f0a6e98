"""Parsing of AT command lines into name, form and arguments.

The emulated module runs one command per line: a ``;`` outside double quotes (V.250 command
chaining, which a real module may honour) makes the line ``ERROR``, as does an unbalanced quote.
So a client that lets a caller's ``;`` or ``"`` through unquoted fails here instead of sending a
second command to a real module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Command", "parse_command", "split_args", "split_first", "unquote"]

Kind = Literal["exec", "set", "query", "test"]

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"'})
_EXT_NAME = re.compile(r"[A-Za-z0-9_]+")
_BASIC = re.compile(r"(&?[A-Za-z])(\d*)")


@dataclass(frozen=True)
class Command:
    """One parsed command.

    ``name`` is upper case, with its prefix for extended commands (``+HTTPPARA``), the bare
    letter for basic ones (``E``), empty for a bare ``AT``. ``args`` is the text after ``=`` for
    the set form (the digits for a basic command), stripped, with typographic quotes made plain.
    """

    name: str
    kind: Kind
    args: str = ""


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape").translate(_QUOTES)


def parse_command(raw: bytes) -> Command | None:
    """Parse one command line (without terminator); None when it is not a valid AT command."""
    text = _decode(raw).strip()
    if len(text) < 2 or text[:2].upper() != "AT" or not _single_command(text):
        return None
    rest = text[2:].lstrip()
    if not rest:
        return Command("", "exec")
    if rest[0] in "+$^":
        prefix = rest[0]
        body = rest[1:].lstrip()
        match = _EXT_NAME.match(body)
        if match is None:
            return None
        name = prefix + match.group(0).upper()
        tail = body[match.end() :].strip()
        if not tail:
            return Command(name, "exec")
        if tail == "?":
            return Command(name, "query")
        if tail[0] == "=":
            value = tail[1:].strip()
            if value == "?":
                return Command(name, "test")
            return Command(name, "set", value)
        return None
    match = _BASIC.fullmatch(rest.replace(" ", ""))
    if match is None:
        return None
    return Command(match.group(1).upper(), "exec", match.group(2))


def _single_command(text: str) -> bool:
    """True when ``text`` has balanced double quotes and no ``;`` outside them."""
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return False
    return not quoted


def unquote(value: str) -> str:
    """Strip surrounding white space and one pair of double quotes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def split_args(text: str) -> list[str]:
    """Split on commas outside double quotes; each field stripped and unquoted."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "," and not quoted:
            fields.append(unquote("".join(current)))
            current = []
        else:
            current.append(char)
    fields.append(unquote("".join(current)))
    return fields


def split_first(text: str) -> tuple[str, str | None]:
    """Split at the first comma: (first field unquoted, rest unquoted or None if no comma)."""
    head, sep, tail = text.partition(",")
    if not sep:
        return unquote(head), None
    return unquote(head), unquote(tail)
