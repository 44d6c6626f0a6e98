"""Reading the answer to a ranged GET: the ``Content-Range`` header and whether the resource
changed (``ETag``, ``Last-Modified``); and how a file is cut into ranges."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from ..errors import InvalidValue

if TYPE_CHECKING:
    from ..http import Response

__all__ = [
    "MIN_RANGE_SIZE",
    "RANGES_PER_MODEM",
    "changed_validator",
    "content_range",
    "plan_ranges",
]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)\s*-\s*(\d+)|\*)\s*/\s*(\d+|\*)\s*$", re.I)


def content_range(value: str | None) -> tuple[int | None, int | None, int | None] | None:
    """``bytes a-b/n`` -> (a, b, n); ``bytes */n`` -> (None, None, n); ``/*`` gives n None;
    None when ``value`` is missing or not of that form (``b < a`` is not checked)."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    first, last, total = match.groups()
    return (
        int(first) if first is not None else None,
        int(last) if last is not None else None,
        int(total) if total != "*" else None,
    )


def changed_validator(
    response: Response, etag: str | None, last_modified: str | None
) -> str | None:
    """The first validator header (``etag``, ``last-modified``) that ``response`` gives with
    another value than the known one, or None; an unknown or missing value is no change."""
    for name, known in (("etag", etag), ("last-modified", last_modified)):
        seen = response.headers.get(name)
        if known is not None and seen is not None and seen != known:
            return name
    return None


MIN_RANGE_SIZE = 16 * 1024
"""Smallest range when a file is cut finer than ``range_size`` to keep several workers busy."""

RANGES_PER_MODEM = 4
"""With several workers a file is cut into at least this many ranges per worker (of at least
:data:`MIN_RANGE_SIZE`), so that a slow modem does not hold up the end."""


def plan_ranges(total: int, modems: int, range_size: int, start: int = 0) -> list[tuple[int, int]]:
    """Cut ``[start, total)`` into ``(start, end)`` ranges of at most ``range_size`` bytes;
    with several ``modems``, finer when that gives fewer than :data:`RANGES_PER_MODEM` each."""
    if range_size < 1:
        raise InvalidValue(f"range_size must be >= 1, not {range_size}")
    size = range_size
    if modems > 1:
        spread = math.ceil((total - start) / (modems * RANGES_PER_MODEM))
        size = max(1, min(range_size, max(MIN_RANGE_SIZE, spread)))
    return [(offset, min(offset + size, total)) for offset in range(start, total, size)]
