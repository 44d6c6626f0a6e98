"""Content codings: what ``Accept-Encoding`` offers, and a sans-IO decoder whose every step is
bounded.

gzip and deflate come with Python (zlib); ``br`` needs the ``brotli`` package (or
``brotlicffi``) and ``zstd`` the ``zstandard`` package, the ``compression`` extra.

A ``Content-Encoding`` of up to :data:`MAX_CODINGS` codings is undone by one chain of layers,
driven iteratively (no recursion): wire bytes go in with :meth:`ContentDecoder.feed`, and each
:meth:`ContentDecoder.next_piece` does one bounded step of work. A step makes calls into the
decompressors, each with at most one input slice and at most :data:`PIECE` bytes of output,
until it has a decoded piece or has spent :data:`STEP_WORK` (bytes consumed plus bytes
produced at every layer, plus a fixed cost per call): so no step holds the event loop for more
than a few milliseconds, whatever the body. Every layer's output, kept or discarded (padding
after a gzip member, bytes after the end of a deflate stream), is held to the
:class:`DecompressionLimits`, so a body that makes too much work is refused early with
:class:`~n58aio.errors.DecompressionLimitError`. Memory stays bounded: a layer is given more
input only once the layer after it has used up what it had.

What is accepted after the end of a stream follows urllib3: gzip members follow one another
(RFC 1952; NUL padding between or after members is skipped, anything else must be a valid
member), zstd frames too (RFC 8878); bytes after the end of a deflate stream are ignored
(counted as work), bytes after the end of a br stream are an error (brotli's own rule).
"""

from __future__ import annotations

import enum
import importlib
import zlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from ..errors import DecodingError, DecompressionLimitError

__all__ = [
    "CALL_COST",
    "CALL_WORK",
    "MAX_CODINGS",
    "PIECE",
    "STEP_WORK",
    "ContentDecoder",
    "DecompressionLimits",
    "Step",
    "accept_encoding",
    "make_decoder",
    "supported_encodings",
]

PIECE = 64 * 1024
"""Largest piece a layer hands on at once, and the output each decompressor call is asked for
(brotli may pass it a little; zstd cannot be asked: see :data:`_ZSTD_SLICE`)."""

STEP_WORK = 256 * 1024
"""Work after which a step ends without a piece: bytes consumed plus bytes produced at every
layer, plus :data:`CALL_COST` per decompressor call."""

MAX_CODINGS = 5
"""Most codings a ``Content-Encoding`` may list (urllib3's ``max_decode_links``)."""

_SLICE = 16 * 1024
"""Most input bytes given to one zlib or brotli call."""

_ZSTD_SLICE = 16
"""zstandard cannot bound the output of a call: it is fed this many bytes at a time, which
complete at most a few blocks (a block decodes to at most 128 KiB, and takes at least 4 bytes)."""

_ZSTD_MAX_WINDOW = 8 * 1024 * 1024
"""Largest zstd window accepted (RFC 9659: 8 MB for the ``zstd`` content coding), so a frame
header cannot make the decoder allocate more."""

CALL_COST = 1024
"""Work counted for one decompressor call besides its bytes (a new member's decompressor,
Python overhead): a body of many tiny members is bounded too."""

CALL_WORK = _SLICE + PIECE + CALL_COST
"""The most work counted for one call: so a step does less than ``STEP_WORK + CALL_WORK``."""


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
    """When decoding is refused as a decompression bomb.

    Every layer of the decoding is held to these, counting all it produces, kept or
    discarded (for ``gzip`` alone, the decoded body). ``max_ratio``: bytes produced over wire
    bytes, checked once a layer has produced ``ratio_after`` bytes (small bodies compress far
    better than large ones); ``max_size``: bytes a layer may produce in all (None: no limit).
    Checked after every decompressor call.
    """

    max_ratio: float = 200.0
    ratio_after: int = 1024 * 1024
    max_size: int | None = None

    def __post_init__(self) -> None:
        if not self.max_ratio >= 1 or self.ratio_after < 0:
            raise ValueError("max_ratio must be >= 1 and ratio_after >= 0")
        if self.max_size is not None and self.max_size < 0:
            raise ValueError("max_size must be >= 0 or None")

    def check(self, decoded: int, encoded: int, what: str = "decoded body") -> None:
        """Raise :class:`~n58aio.errors.DecompressionLimitError` when a limit is passed."""
        if self.max_size is not None and decoded > self.max_size:
            raise DecompressionLimitError(
                f"{what} passed max_size={self.max_size} bytes ({encoded} bytes on the wire)"
            )
        if decoded > self.ratio_after and decoded > self.max_ratio * max(encoded, 1):
            raise DecompressionLimitError(
                f"{what} is over {self.max_ratio:g} times its {encoded} wire bytes"
                f" ({decoded} bytes): refused as a decompression bomb"
            )


class Step(enum.Enum):
    """What :meth:`ContentDecoder.next_piece` gives when it has no decoded piece."""

    NEED_DATA = "need data"
    """Every layer used up its input: :meth:`~ContentDecoder.feed` more wire bytes, or
    :meth:`~ContentDecoder.feed_eof`."""
    PAUSE = "pause"
    """The step spent its work budget: let other tasks run, then call again."""
    DONE = "done"
    """The body ended and every coding reached its end of stream."""


class _Codec(Protocol):
    """One content coding. ``decode`` is one bounded call: it decodes from the start of
    ``data`` (at most :attr:`slice` bytes) and returns the output and how many bytes of
    ``data`` it used; it always uses a byte, produces one, or ends the stream (so a chain
    always progresses)."""

    slice: int

    @property
    def pending(self) -> bool:
        """Output may be waiting inside without more input."""

    def decode(self, data: bytes) -> tuple[bytes, int]: ...

    def end(self, seen: bool) -> None:
        """The input ended: raise :class:`DecodingError` in the middle of a stream."""


class _Gzip:
    """gzip members one after the other; NUL padding between and after them is skipped."""

    slice = _SLICE

    def __init__(self) -> None:
        self.obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self.in_member = False
        self.full = False

    @property
    def pending(self) -> bool:
        return self.full

    def decode(self, data: bytes) -> tuple[bytes, int]:
        skipped = 0
        if not self.in_member:
            body = data.lstrip(b"\0")
            skipped = len(data) - len(body)
            if not body:
                return b"", skipped
            data = body
            self.obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
            self.in_member = True
        try:
            out = self.obj.decompress(data, PIECE)
        except zlib.error as exc:
            raise DecodingError(f"bad gzip data: {exc}") from None
        if self.obj.eof:
            self.in_member = self.full = False
            return out, skipped + len(data) - len(self.obj.unused_data)
        self.full = len(out) == PIECE
        return out, skipped + len(data) - len(self.obj.unconsumed_tail)

    def end(self, seen: bool) -> None:
        if self.in_member or (seen and not self.obj.eof):
            raise DecodingError("gzip data ended before its end of stream")


class _Deflate:
    """One zlib stream (RFC 1950), or raw deflate (RFC 1951) when the first two bytes are no
    zlib header, as some servers send it; bytes after its end are ignored."""

    slice = _SLICE

    def __init__(self) -> None:
        self.obj: Any = None
        self.head = b""
        self.full = False

    @property
    def pending(self) -> bool:
        return self.full

    def decode(self, data: bytes) -> tuple[bytes, int]:
        if self.obj is None:
            if len(self.head) + len(data) < 2:
                self.head += data  # held until the header can be told
                return b"", len(data)
            held, self.head = self.head, b""
            first = held + data
            cmf, flg = first[0], first[1]
            zlib_header = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0
            self.obj = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            out, rest = self._inflate(first)
            return out, max(len(data) - rest, 0)  # the held bytes were counted when taken
        if self.obj.eof:
            return b"", len(data)  # after the end of the stream: ignored
        out, rest = self._inflate(data)
        return out, len(data) - rest

    def _inflate(self, data: bytes) -> tuple[bytes, int]:
        try:
            out: bytes = self.obj.decompress(data, PIECE)
        except zlib.error as exc:
            raise DecodingError(f"bad deflate data: {exc}") from None
        if self.obj.eof:
            self.full = False
            return out, 0  # what follows the end is ignored: all of data counts as used
        self.full = len(out) == PIECE
        return out, len(self.obj.unconsumed_tail)

    def end(self, seen: bool) -> None:
        if seen and (self.obj is None or not self.obj.eof):
            raise DecodingError("deflate data ended before its end of stream")


class _Brotli:
    """One brotli stream; brotli refuses bytes after its end (a :class:`DecodingError`)."""

    slice = _SLICE

    def __init__(self, module: Any) -> None:
        self.module = module
        self.obj = module.Decompressor()
        self.full = False

    @property
    def pending(self) -> bool:
        # a call that reached the limit may leave output inside, even with all input taken
        finished = self.obj.is_finished()
        return not finished and (self.full or not self.obj.can_accept_more_data())

    def decode(self, data: bytes) -> tuple[bytes, int]:
        if self.obj.is_finished():
            return b"", len(data)
        taking = self.obj.can_accept_more_data()  # else: input waits inside, asked for output
        try:
            out: bytes = self.obj.process(data if taking else b"", output_buffer_limit=PIECE)
        except self.module.error as exc:
            raise DecodingError(f"bad br data: {exc}") from None
        self.full = len(out) >= PIECE
        return out, len(data) if taking else 0

    def end(self, seen: bool) -> None:
        if seen and not self.obj.is_finished():
            raise DecodingError("br data ended before its end of stream")


class _Zstd:
    """zstd frames one after the other, each with a window of at most 8 MiB."""

    slice = _ZSTD_SLICE

    def __init__(self, module: Any) -> None:
        self.module = module
        self.obj: Any = None

    @property
    def pending(self) -> bool:
        return False

    def decode(self, data: bytes) -> tuple[bytes, int]:
        if self.obj is None:
            frames = self.module.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
            self.obj = frames.decompressobj(write_size=PIECE)
        try:
            out: bytes = self.obj.decompress(data)
        except self.module.ZstdError as exc:
            raise DecodingError(f"bad zstd data: {exc}") from None
        used = len(data)
        if self.obj.eof:
            used -= len(self.obj.unused_data)
            self.obj = None  # the next byte starts another frame
        return out, used

    def end(self, seen: bool) -> None:
        if self.obj is not None:
            raise DecodingError("zstd data ended before its end of frame")


def _codec(coding: str) -> _Codec:
    if coding in ("gzip", "x-gzip"):
        return _Gzip()
    if coding == "deflate":
        return _Deflate()
    if coding == "br" and _brotli is not None:
        return _Brotli(_brotli)
    if coding == "zstd" and _zstd is not None:
        return _Zstd(_zstd)
    hint = " (pip install 'n58aio[compression]')" if coding in ("br", "zstd") else ""
    raise DecodingError(f"cannot decode Content-Encoding {coding!r}{hint}; aiter_raw() gives it")


@dataclass(slots=True)
class _Layer:
    """One coding of the chain, with its input (what the layer before produced) and counts."""

    name: str
    codec: _Codec
    buffer: bytearray = field(default_factory=bytearray)
    pos: int = 0
    seen: bool = False
    produced: int = 0
    spill: bytes = b""  # output of a call past PIECE (brotli's limit is soft; zstd has none)
    idle: int = 0  # calls in a row that neither used nor produced a byte

    @property
    def waiting(self) -> int:
        return len(self.buffer) - self.pos

    def push(self, data: bytes) -> None:
        if data:
            if self.pos:  # keep the buffer as short as what waits in it
                del self.buffer[: self.pos]
                self.pos = 0
            self.buffer += data
            self.seen = True

    def ready(self) -> bool:
        return self.waiting > 0 or self.codec.pending or bool(self.spill)

    def call(self) -> tuple[bytes, int]:
        """One bounded decompressor call, or a piece of the last one's output past
        :data:`PIECE`: (output, bytes consumed)."""
        if self.spill:
            out, self.spill = self.spill[:PIECE], self.spill[PIECE:]
            return out, 0
        chunk = bytes(self.buffer[self.pos : self.pos + self.codec.slice])
        out, used = self.codec.decode(chunk)
        self.idle = 0 if out or used else self.idle + 1
        if self.idle > 1:  # a codec's promise broken: refused rather than spun on
            raise DecodingError(f"{self.name} decoder stopped making progress")
        self.pos += used
        if self.pos == len(self.buffer):
            self.buffer.clear()
            self.pos = 0
        self.produced += len(out)
        out, self.spill = out[:PIECE], out[PIECE:]
        return out, used


class ContentDecoder:
    """Undoes the codings of a ``Content-Encoding`` value (in reverse order of application),
    sans-IO and step by step, within ``limits``.

    Use: :meth:`feed` wire bytes, then call :meth:`next_piece` until it gives
    :attr:`Step.NEED_DATA`; at the end of the body, :meth:`feed_eof` and call until
    :attr:`Step.DONE`. An async caller lets the loop run between calls.
    """

    def __init__(self, content_encoding: str, limits: DecompressionLimits | None = None) -> None:
        listed = [c.strip().lower() for c in content_encoding.split(",")]
        listed = [c for c in listed if c]
        if len(listed) > MAX_CODINGS:
            raise DecodingError(
                f"Content-Encoding lists {len(listed)} codings: at most {MAX_CODINGS} are decoded"
            )
        self.codings = [c for c in listed if c != "identity"]
        self.layers = [_Layer(c, _codec(c)) for c in reversed(self.codings)]
        self.limits = limits or DecompressionLimits()
        self.encoded = 0
        self.decoded = 0
        self.work = 0
        """Work done in all (bytes consumed and produced at every layer, calls)."""
        self.longest_step = 0
        """The most work one :meth:`next_piece` call did (for benchmarks)."""
        self._eof = False
        self._done = False

    def feed(self, data: bytes) -> None:
        """Wire bytes of the body, in any split."""
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        self.encoded += len(data)
        self.layers[0].push(data)

    def feed_eof(self) -> None:
        """The body ended on the wire."""
        self._eof = True

    def next_piece(self) -> bytes | Step:
        """One bounded step: a decoded piece (never empty), or what to do next.

        Raises :class:`~n58aio.errors.DecodingError` for data that does not decode and
        :class:`~n58aio.errors.DecompressionLimitError` past the limits."""
        work = 0
        try:
            while work < STEP_WORK:
                index = self._deepest_ready()
                if index is None:
                    return self._idle()
                layer = self.layers[index]
                out, used = layer.call()
                work += used + len(out) + CALL_COST
                if not out:
                    continue
                last = index == len(self.layers) - 1
                what = "decoded body" if last else f"{layer.name} layer output"
                self.limits.check(layer.produced, self.encoded, what)
                if last:
                    self.decoded += len(out)
                    return out
                self.layers[index + 1].push(out)
            return Step.PAUSE
        finally:
            self.work += work
            self.longest_step = max(self.longest_step, work)

    def _deepest_ready(self) -> int | None:
        """The layer nearest the output that can work: draining the deep layers first keeps
        every buffer within one call's output."""
        for index in range(len(self.layers) - 1, -1, -1):
            if self.layers[index].ready():
                return index
        return None

    def _idle(self) -> Step:
        """Nothing can work: at the end of the body, check every stream ended, in order."""
        if not self._eof:
            return Step.NEED_DATA
        if not self._done:
            for layer in self.layers:
                layer.codec.end(layer.seen)
            self._done = True
        return Step.DONE


def make_decoder(
    content_encoding: str | None, limits: DecompressionLimits | None = None
) -> ContentDecoder | None:
    """A decoder for a ``Content-Encoding`` header, or None for none or identity."""
    if not content_encoding:
        return None
    decoder = ContentDecoder(content_encoding, limits)
    return decoder if decoder.layers else None
