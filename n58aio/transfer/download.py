"""A modem's download to a local file: :class:`~n58aio.transfer.engine.RangeEngine` with one
worker, the modem (``ModemPool.download`` is the same engine with one worker per modem).

The file is fetched as a series of ranged GETs (``AT+HTTPACTION=0,<offset>,<size>``) streamed to
``<path>.part`` and checked range by range; a range that fails (link closed, framing lost,
timeout, module reset) goes on from where it stopped after the retry policy's delay and the
modem's recovery. ``<path>.part.json`` records the verified prefix, so a later call resumes; the
file gets its final name only when it is complete and matches the expected hashes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

from ..http import ModuleURL
from .engine import CHECKPOINT_INTERVAL as CHECKPOINT_INTERVAL
from .engine import DownloadResult, ModemSource, RangeEngine
from .modem_api import DownloadModem
from .options import DEFAULT_RANGE_SIZE as DEFAULT_RANGE_SIZE
from .options import MAX_BACKOFF as MAX_BACKOFF
from .options import RETRY_STATUSES as RETRY_STATUSES
from .options import DownloadOptions, DownloadSettings
from .progress import PROGRESS_INTERVAL as PROGRESS_INTERVAL
from .progress import RATE_WINDOW as RATE_WINDOW
from .progress import Progress, ProgressCallback
from .sidecar import SIDECAR_VERSION as SIDECAR_VERSION

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "DownloadResult",
    "Progress",
    "ProgressCallback",
    "download",
]


async def download(
    modem: DownloadModem,
    url: str,
    path: str | os.PathLike[str],
    **options: Unpack[DownloadOptions],
) -> DownloadResult:
    """Download ``url`` to ``path`` with ranged GETs of ``range_size`` bytes; resumable.
    The options are :class:`~n58aio.transfer.DownloadOptions`.

    ``sha256``/``md5`` (hex) are checked over the whole file before it gets its final name
    (:class:`~n58aio.transfer.IntegrityError` otherwise, and the partial file is deleted).
    A failed range is retried up to ``retries`` times in a row (the count restarts when bytes
    came) under :meth:`DownloadSettings.policy
    <n58aio.transfer.options.DownloadSettings.policy>`: a delay drawn below ``backoff`` seconds,
    a ceiling doubled after each failure (at most 30 s; full jitter), and the modem recovered.
    ``progress`` is called with a :class:`Progress` at most every 0.1 s and once at the end.
    ``tls`` and ``timeouts`` apply to every request. A ``path`` that exists and is not a
    regular file (``/dev/null``, a FIFO) is never renamed over: the download is staged in an
    anonymous temporary file, written into ``path`` once verified, and does not resume
    (:mod:`~n58aio.transfer.localfile`); a directory raises :class:`~n58aio.errors.InvalidValue`.

    Raises :class:`~n58aio.errors.TransferError` when it gives up (the verified part stays on
    disk for the next call), :class:`~n58aio.transfer.RangeMismatchError` when the server
    answers another range or another version, :class:`~n58aio.errors.HTTPStatusError` for an
    error status that is not worth retrying, ``OSError`` for local file errors.
    """
    target = ModuleURL.parse(url)
    settings = DownloadSettings.of(options)
    engine = RangeEngine(ModemSource(modem, settings), target, Path(path), settings)
    return await engine.run()
