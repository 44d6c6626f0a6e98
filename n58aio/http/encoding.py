"""Content codings: what ``Accept-Encoding`` offers, and incremental, bounded decoding.

gzip and deflate come with Python (zlib); ``br`` needs the ``brotli`` package (or
``brotlicffi``) and ``zstd`` the ``zstandard`` package, the ``compression`` extra. Each decoder
turns wire bytes into body bytes in pieces of at most :data:`PIECE` bytes, so memory stays
bounded whatever the ratio, and a :class:`DecompressionLimits` check runs after every piece: a
decompression bomb is refused with :class:`~n58aio.errors.DecompressionLimitError` before its
output piles up.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from ..errors import DecodingError, DecompressionLimitError

__all__ = [
    "PIECE",
    "ContentDecoder",
    "DecompressionLimits",
    "accept_encoding",
    "make_decoder",
    "supported_encodings",
]

PIECE = 64 * 1024
"""Largest piece of decoded output a decoder produces at once."""

_ZSTD_SLICE = 64  # zstandard cannot bound its output: it is fed this many input bytes at a time


def _optional(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_brotli = _optional("brotli", "brotlicffi")
_zstd = _optional("zstandard")


def supported_encodings() -> tuple[str, ...]:
    """The content codings this installation decodes, in order of preference."""
    names = ["gzip", "deflate"]
    if _brotli is not None:
        names.append("br")
    if _zstd is not None:
        names.append("zstd")
    return tuple(names)


def accept_encoding() -> str:
    """The ``Accept-Encoding`` value n58aio sends: ``gzip, deflate`` plus br and zstd when
    their packages are installed."""
    return ", ".join(supported_encodings())


@dataclass(frozen=True, slots=True)
class DecompressionLimits:
    """When decoded output is refused as a decompression bomb.

    ``max_ratio``: decoded bytes over wire bytes, checked once the output passes
    ``ratio_after`` bytes (small bodies compress far better than large ones); ``max_size``:
    decoded bytes in all (None: no limit). Both are checked after every decoded piece.
    """

    max_ratio: float = 200.0
    ratio_after: int = 1024 * 1024
    max_size: int | None = None

    def __post_init__(self) -> None:
        if not self.max_ratio >= 1 or self.ratio_after < 0:
            raise ValueError("max_ratio must be >= 1 and ratio_after >= 0")
        if self.max_size is not None and self.max_size < 0:
            raise ValueError("max_size must be >= 0 or None")

    def check(self, decoded: int, encoded: int) -> None:
        """Raise :class:`~n58aio.errors.DecompressionLimitError` when a limit is passed."""
        if self.max_size is not None and decoded > self.max_size:
            raise DecompressionLimitError(
                f"decoded body passed max_size={self.max_size} bytes ({encoded} bytes on the wire)"
            )
        if decoded > self.ratio_after and decoded > self.max_ratio * max(encoded, 1):
            raise DecompressionLimitError(
                f"decoded body is over {self.max_ratio:g} times its {encoded} wire bytes"
                f" ({decoded} bytes): refused as a decompression bomb"
            )


class _Step(Protocol):
    """One content coding, undone incrementally."""

    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (``wbits`` 31, several members allowed) and deflate (zlib, or raw as some servers
    send it)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.gzip = coding == "gzip"
        self._new(zlib.MAX_WBITS | 16 if self.gzip else zlib.MAX_WBITS)
        self.head = b""  # deflate: the input before the first output, for the raw retry
        self.started = False
        self.seen = False

    def _new(self, wbits: int) -> None:
        self.wbits = wbits
        self.obj = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            self.seen = True
            if not self.started and self.coding == "deflate" and self.wbits > 0:
                self.head += data
        while True:
            if self.obj.eof:
                rest = self.obj.unused_data + data
                if not self.gzip or not rest.strip(b"\0"):
                    return  # bytes after the end of the stream (padding) are ignored
                self._new(self.wbits)  # another gzip member
                data = rest
            try:
                out = self.obj.decompress(data, PIECE)
            except zlib.error as exc:
                if self.coding == "deflate" and not self.started and self.wbits > 0:
                    self._new(-zlib.MAX_WBITS)  # raw deflate, without the zlib header
                    data, self.head = self.head, b""
                    continue
                raise DecodingError(f"bad {self.coding} data: {exc}") from None
            data = self.obj.unconsumed_tail
            if out or len(self.head) > PIECE:
                self.started = True  # past the header: no retry as raw deflate
                self.head = b""
            if out:
                yield out
            more_members = self.obj.eof and self.obj.unused_data
            if not data and len(out) < PIECE and not more_members:
                return  # a full piece may leave output inside zlib: ask again

    def finish(self) -> Iterator[bytes]:
        if self.seen and not self.obj.eof:
            raise DecodingError(f"{self.coding} data ended before its end of stream")
        return iter(())


class _Brotli:
    def __init__(self, module: Any) -> None:
        self.module = module
        self.obj = module.Decompressor()
        self.seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self.seen = True
        try:
            out: bytes = self.obj.process(data, output_buffer_limit=PIECE)
            while True:
                # the limit is a soft one (the buffer stops growing once past it), and output
                # may be pending while more input is already accepted
                for begin in range(0, len(out), PIECE):
                    yield out[begin : begin + PIECE]
                if self.obj.is_finished() or (len(out) < PIECE and self.obj.can_accept_more_data()):
                    return
                out = self.obj.process(b"", output_buffer_limit=PIECE)
        except self.module.error as exc:
            raise DecodingError(f"bad br data: {exc}") from None

    def finish(self) -> Iterator[bytes]:
        if self.seen and not self.obj.is_finished():
            raise DecodingError("br data ended before its end of stream")
        return iter(())


class _Zstd:
    def __init__(self, module: Any) -> None:
        self.module = module
        self.obj = module.ZstdDecompressor().decompressobj(write_size=PIECE)
        self.seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            self.seen = True
        view = memoryview(data)
        for start in range(0, len(view), _ZSTD_SLICE):
            if self.obj.eof:
                return
            try:
                out: bytes = self.obj.decompress(view[start : start + _ZSTD_SLICE])
            except self.module.ZstdError as exc:
                raise DecodingError(f"bad zstd data: {exc}") from None
            for begin in range(0, len(out), PIECE):
                yield out[begin : begin + PIECE]

    def finish(self) -> Iterator[bytes]:
        if self.seen and not self.obj.eof:
            raise DecodingError("zstd data ended before its end of frame")
        return iter(())


def _step(coding: str) -> _Step:
    if coding in ("gzip", "x-gzip"):
        return _Zlib("gzip")
    if coding == "deflate":
        return _Zlib("deflate")
    if coding == "br" and _brotli is not None:
        return _Brotli(_brotli)
    if coding == "zstd" and _zstd is not None:
        return _Zstd(_zstd)
    hint = " (pip install 'n58aio[compression]')" if coding in ("br", "zstd") else ""
    raise DecodingError(f"cannot decode Content-Encoding {coding!r}{hint}; aiter_raw() gives it")


class ContentDecoder:
    """Undoes the codings of a ``Content-Encoding`` value, in reverse order of application,
    piece by piece, with ``limits`` checked after every decoded piece."""

    def __init__(self, content_encoding: str, limits: DecompressionLimits | None = None) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        self.codings = [c for c in codings if c and c != "identity"]
        self.steps = [_step(c) for c in reversed(self.codings)]
        self.limits = limits or DecompressionLimits()
        self.encoded = 0
        self.decoded = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode wire bytes; yields decoded pieces of at most :data:`PIECE` bytes."""
        self.encoded += len(data)
        yield from self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """The body ended: check every coding reached its end of stream."""
        for index, step in enumerate(self.steps):
            for piece in step.finish():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.steps):
            if data:
                self.decoded += len(data)
                self.limits.check(self.decoded, self.encoded)
                yield data
            return
        for piece in self.steps[index].feed(data):
            yield from self._through(index + 1, piece)


def make_decoder(
    content_encoding: str | None, limits: DecompressionLimits | None = None
) -> ContentDecoder | None:
    """A decoder for a ``Content-Encoding`` header, or None for none or identity."""
    if not content_encoding:
        return None
    decoder = ContentDecoder(content_encoding, limits)
    return decoder if decoder.steps else None
