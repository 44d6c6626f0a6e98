"""Errors of downloads and module-side transfers, all :class:`~n58aio.errors.TransferError`."""

from __future__ import annotations

from ..errors import TransferError
from ..redact import redact

__all__ = [
    "IntegrityError",
    "ModuleFileError",
    "ModuleTransferError",
    "PDPNotActiveError",
    "RangeMismatchError",
]


class IntegrityError(TransferError):
    """The downloaded file's hash is not the expected one (the partial file was deleted)."""

    def __init__(self, algorithm: str, expected: str, actual: str, url: str) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        self.url = url = redact(url)
        super().__init__(f"{algorithm} of {url} is {actual}, expected {expected}")


class RangeMismatchError(TransferError):
    """The server answered a ranged GET with another range, another size or another version
    of the resource (``Content-Range``, ``ETag`` or ``Last-Modified`` changed)."""


class ModuleTransferError(TransferError):
    """A module-side transfer (``AT+HTTPGET``, ``AT+FILEHTTPACTION``) failed.

    ``states`` holds the report states received (``+HTTPGETRPT`` 10, 11, 20...), ``http_status``
    the HTTP status the module reported (404...), ``cme_code`` the ``+CME ERROR`` code when the
    command itself was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        states: tuple[int, ...] = (),
        http_status: int | None = None,
        cme_code: int | None = None,
    ) -> None:
        self.states = states
        self.http_status = http_status
        self.cme_code = cme_code
        super().__init__(message)


class PDPNotActiveError(ModuleTransferError):
    """The module has no data link (``+CME ERROR: 1001``, "PDP not active"): call
    ``await modem.attach()`` first."""


class ModuleFileError(TransferError):
    """A file operation on the module failed: the file is missing, the module refused a
    write, or a read stayed corrupt after a second try. ``name`` is the module file."""

    def __init__(self, message: str, *, name: str) -> None:
        self.name = name
        super().__init__(message)
