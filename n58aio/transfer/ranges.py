"""Reading the answer to a ranged GET: the ``Content-Range`` header and whether the resource
changed (``ETag``, ``Last-Modified``); shared by :func:`n58aio.transfer.download` and
``ModemPool.download``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..http import Response

__all__ = ["changed_validator", "content_range"]

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
