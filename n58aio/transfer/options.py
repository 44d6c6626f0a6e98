"""The checked options of a download and its retry policy, shared by
:func:`n58aio.transfer.download` and ``ModemPool.download``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidValue, N58Error
from ..retry import DOWNLOAD_STATUSES, LINK_ERRORS, MAX_BACKOFF, RECOVERABLE_ERRORS, RetryPolicy

if TYPE_CHECKING:
    from ..http import Timeouts, TLSConfig
    from .progress import ProgressCallback

__all__ = [
    "LINK_FAULTS",
    "MAX_BACKOFF",
    "RETRY_STATUSES",
    "DownloadOptions",
    "hex_digest",
]

RETRY_STATUSES = DOWNLOAD_STATUSES
"""HTTP statuses retried like a lost link; other 4xx/5xx end the download."""
LINK_FAULTS: tuple[type[N58Error], ...] = LINK_ERRORS
"""Faults after which a range is fetched again on the same modem (the link or the modem's
output failed; a port that vanished is not one of them)."""

_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, slots=True)
class DownloadOptions:
    """The keyword options of a download, checked (see :meth:`checked`)."""

    sha256: str | None
    md5: str | None
    range_size: int
    progress: ProgressCallback | None
    retries: int
    backoff: float
    tls: TLSConfig | None
    timeouts: Timeouts | None

    @classmethod
    def checked(
        cls,
        sha256: str | None,
        md5: str | None,
        range_size: int,
        progress: ProgressCallback | None,
        retries: int,
        backoff: float,
        tls: TLSConfig | None,
        timeouts: Timeouts | None,
        /,
    ) -> DownloadOptions:
        """The options in the order of the download signature; raises
        :class:`~n58aio.errors.InvalidValue` for a bad size, count, delay or digest, and
        gives the digests in lower case."""
        if range_size < 1:
            raise InvalidValue(f"range_size must be >= 1, not {range_size}")
        if retries < 0 or not backoff >= 0:
            raise InvalidValue("retries and backoff must be >= 0")
        return cls(
            hex_digest(sha256, 64, "sha256"),
            hex_digest(md5, 32, "md5"),
            range_size,
            progress,
            retries,
            backoff,
            tls,
            timeouts,
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
