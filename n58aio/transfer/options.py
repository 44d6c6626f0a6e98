"""The options of a download, defined once, and their checked form with its retry policy.

:class:`DownloadOptions` is what ``Modem.download``, :func:`n58aio.transfer.download` and
``ModemPool.download`` take as ``**options: Unpack[DownloadOptions]`` (as requests take
:class:`~n58aio.http.RequestOptions`); :meth:`DownloadSettings.of` checks them before anything
is written and gives the :class:`~n58aio.RetryPolicy` of a range.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import InvalidOption, InvalidValue, N58Error
from ..http import Timeouts, TimeoutTypes, TLSConfig
from ..retry import DOWNLOAD_STATUSES, LINK_ERRORS, MAX_BACKOFF, RECOVERABLE_ERRORS, RetryPolicy

if TYPE_CHECKING:
    from .progress import ProgressCallback

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "LINK_FAULTS",
    "MAX_BACKOFF",
    "RETRY_STATUSES",
    "DownloadOptions",
    "DownloadSettings",
    "hex_digest",
]

DEFAULT_RANGE_SIZE = 256 * 1024
RETRY_STATUSES = DOWNLOAD_STATUSES
"""HTTP statuses retried like a lost link; other 4xx/5xx end the download."""
LINK_FAULTS: tuple[type[N58Error], ...] = LINK_ERRORS
"""Faults after which a range is fetched again on the same modem (the link or the modem's
output failed; a port that vanished is not one of them)."""

_HEX = re.compile(r"^[0-9a-fA-F]+$")


class DownloadOptions(TypedDict, total=False):
    """The keyword options of a download (every one may be left out).

    ``sha256`` / ``md5``: hex digests checked over the whole file. ``range_size``: bytes per
    ranged GET (256 KiB). ``progress``: called with a :class:`~n58aio.transfer.Progress` at most
    every 0.1 s and once at the end. ``retries`` (8): failed attempts of one range in a row
    before giving up; ``backoff`` (0.5 s): the first delay's ceiling, doubled after each failure
    up to 30 s, full jitter (the range's :class:`~n58aio.RetryPolicy`). ``tls`` and ``timeouts``:
    for every request (else the modem's defaults).
    """

    sha256: str | None
    md5: str | None
    range_size: int
    progress: ProgressCallback | None
    retries: int
    backoff: float
    tls: TLSConfig | None
    timeouts: TimeoutTypes


_KNOWN = frozenset(DownloadOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class DownloadSettings:
    """:class:`DownloadOptions` checked, with their defaults (see :meth:`of`)."""

    sha256: str | None = None
    md5: str | None = None
    range_size: int = DEFAULT_RANGE_SIZE
    progress: ProgressCallback | None = None
    retries: int = 8
    backoff: float = 0.5
    tls: TLSConfig | None = None
    timeouts: Timeouts | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> DownloadSettings:
        """Check ``options`` before anything is written: an unknown name raises
        :class:`~n58aio.errors.InvalidOption` (naming the closest), a bad size, count, delay
        or digest :class:`~n58aio.errors.InvalidValue`; digests come out in lower case."""
        for name in options:
            if name not in _KNOWN:
                close = difflib.get_close_matches(name, sorted(_KNOWN), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InvalidOption(f"unknown download option {name!r}{hint}")
        range_size = options.get("range_size", DEFAULT_RANGE_SIZE)
        retries = options.get("retries", 8)
        backoff = options.get("backoff", 0.5)
        if range_size < 1:
            raise InvalidValue(f"range_size must be >= 1, not {range_size}")
        if retries < 0 or not backoff >= 0:
            raise InvalidValue("retries and backoff must be >= 0")
        return cls(
            hex_digest(options.get("sha256"), 64, "sha256"),
            hex_digest(options.get("md5"), 32, "md5"),
            range_size,
            options.get("progress"),
            retries,
            backoff,
            options.get("tls"),
            Timeouts.of(options.get("timeouts")),
        )

    def policy(self, *, other_modems: bool = False) -> RetryPolicy:
        """The :class:`~n58aio.RetryPolicy` of one range: ``retries`` + 1 attempts in a row,
        ``backoff`` doubling up to :data:`MAX_BACKOFF` with full jitter, the link faults and
        :data:`RETRY_STATUSES`; with ``other_modems`` (the pool) a vanished port too."""
        return RetryPolicy(
            attempts=self.retries + 1,
            backoff=self.backoff,
            max_backoff=MAX_BACKOFF,
            errors=RECOVERABLE_ERRORS if other_modems else LINK_FAULTS,
            statuses=RETRY_STATUSES,
            methods=frozenset({"GET"}),
        )


def hex_digest(value: str | None, length: int, name: str) -> str | None:
    """``value`` in lower case, checked to be ``length`` hexadecimal digits (None stays None)."""
    if value is None:
        return None
    if len(value) != length or not _HEX.match(value):
        raise InvalidValue(f"{name} must be {length} hexadecimal digits")
    return value.lower()
