"""String parameters of AT command lines: bare when safe, quoted when needed, refused otherwise.

V.250 chains commands on ``;`` and separates parameters on ``,``; a double-quoted string may hold
both. Chapter 9 of the N58 manual writes string values bare (``AT+HTTPPARA=url,host/path``), the
v2.0 manual's examples quote them. So a value holding neither ``,`` nor ``;`` goes bare, as
chapter 9 shows; one holding either goes in double quotes; a ``"`` cannot be written at all (AT
strings have no escape) and is refused. Values that the module takes bare only (file names of
``AT+FILEHTTPACTION``) refuse all three.
"""

from __future__ import annotations

from ..errors import InvalidValue
from ..wire import check_text

__all__ = ["METACHARACTERS", "bare_parameter", "string_parameter"]

METACHARACTERS = frozenset(',;"')
"""Characters with a meaning on an AT command line: parameter and command separators, quote."""


def string_parameter(value: str, what: str, *, max_length: int | None = None) -> str:
    """``value`` as written on the line: bare, or in double quotes when it holds ``,`` or ``;``.

    Raises :class:`~n58aio.errors.InvalidValue` for a ``"``, a byte that would break the line,
    an empty value or one over ``max_length`` (counted without the quotes).
    """
    check_text(value, what, max_length=max_length)
    if not value:
        raise InvalidValue(f"{what} must not be empty")
    if '"' in value:
        raise InvalidValue(
            f"{what} contains a double quote, which an AT command line cannot carry; "
            "percent-encode it as %22"
        )
    if "," in value or ";" in value:
        return f'"{value}"'
    return value


def bare_parameter(value: str, what: str, *, max_length: int | None = None) -> str:
    """``value`` for a parameter written bare: refuses ``,``, ``;`` and ``"`` (and what
    :func:`~n58aio.wire.check_text` refuses, and an empty value)."""
    check_text(value, what, max_length=max_length)
    if not value.strip():
        raise InvalidValue(f"{what} must not be empty")
    found = sorted(METACHARACTERS.intersection(value))
    if found:
        shown = " ".join(repr(c) for c in found)
        raise InvalidValue(f"{what} contains {shown}, which the AT command line would split on")
    return value
