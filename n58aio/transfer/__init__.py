"""Transfers: resumable verified downloads to local files, and the module's own file commands.

:func:`download` (``Modem.download``) fetches a URL as ranged GETs into a local file, surviving
link losses, garbled output and module restarts, and resuming after an interruption.
:func:`module_get`, :func:`file_download` and :func:`file_upload` (``Modem.module_get`` ...)
drive ``AT+HTTPGET`` and ``AT+FILEHTTPACTION``, which move data between a server and the
module's file system. See ``docs/downloads.md``.
"""

from .download import DEFAULT_RANGE_SIZE, DownloadResult, Progress, ProgressCallback, download
from .errors import (
    IntegrityError,
    ModuleFileError,
    ModuleTransferError,
    PDPNotActiveError,
    RangeMismatchError,
)
from .files import FileEntry, ModuleFiles, ReadBackResult
from .module_files import (
    FileTransferResult,
    ModuleGetResult,
    ModuleGetStatus,
    file_download,
    file_upload,
    module_get,
    module_get_status,
)
from .options import DownloadOptions

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "DownloadOptions",
    "DownloadResult",
    "FileEntry",
    "FileTransferResult",
    "IntegrityError",
    "ModuleFileError",
    "ModuleFiles",
    "ModuleGetResult",
    "ModuleGetStatus",
    "ModuleTransferError",
    "PDPNotActiveError",
    "Progress",
    "ProgressCallback",
    "RangeMismatchError",
    "ReadBackResult",
    "download",
    "file_download",
    "file_upload",
    "module_get",
    "module_get_status",
]
