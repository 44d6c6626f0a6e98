"""Content codings of the local origin, made to behave as nginx's ``gzip on`` does.

nginx compresses a response when the request's ``Accept-Encoding`` allows gzip and the type is
in ``gzip_types``; the compressed response has no ``Content-Length`` (chunked on HTTP/1.1), no
``Accept-Ranges``, ``Vary: Accept-Encoding``, and a ``Range`` header is ignored (200, whole
body). :class:`~n58aio.emulator.origin.OriginServer` does the same for ``/json`` and, with
``encoding=<coding>``, for any content route (also ``deflate``, ``br``, ``zstd`` when their
packages are installed), so the client's decoding is tested against both servers alike.
"""

from __future__ import annotations

import functools
import importlib
import json
import zlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

__all__ = ["CODINGS", "encode_pieces", "json_document", "negotiate"]


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_brotli = _optional("brotli")
_zstd = _optional("zstandard")

CODINGS = ("gzip", "deflate") + (("br",) if _brotli else ()) + (("zstd",) if _zstd else ())
"""The codings the origin can apply here."""


@functools.lru_cache(maxsize=8)
def json_document(size: int) -> bytes:
    """A deterministic JSON array of records, at least ``size`` bytes (a few more to close it):
    repeated keys and short values, compressible about as API answers are."""
    parts = [b"["]
    length = 1
    state = 12345
    index = 0
    while length < size:
        state = (1103515245 * state + 12345) % 2**31
        record = {
            "id": index,
            "name": f"sensor-{state % 997:03d}",
            "status": ("ok", "warn", "fail", "ok")[state % 4],
            "value": round((state % 100_000) / 1000, 3),
            "tags": ["n58", f"site-{state % 31}"],
        }
        piece = (b"," if index else b"") + json.dumps(record, separators=(",", ":")).encode()
        parts.append(piece)
        length += len(piece)
        index += 1
    parts.append(b"]")
    return b"".join(parts)


def negotiate(accept_encoding: str | None) -> str | None:
    """gzip when ``Accept-Encoding`` allows it (nginx's rule: gzip listed with a q above 0)."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return "gzip" if float(q[2:]) > 0 else None
            except ValueError:
                return None
        return "gzip"
    return None


def _compressor(coding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    if coding == "gzip":
        gz = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        return gz.compress, gz.flush
    if coding == "deflate":
        zl = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)
        return zl.compress, zl.flush
    if coding == "br" and _brotli is not None:
        br = _brotli.Compressor(quality=5)
        return br.process, br.finish
    if coding == "zstd" and _zstd is not None:
        zs = _zstd.ZstdCompressor(level=3).compressobj()
        return zs.compress, zs.flush
    raise ValueError(f"unknown coding {coding!r}")


async def encode_pieces(
    pieces: AsyncGenerator[bytes, None], coding: str
) -> AsyncGenerator[bytes, None]:
    """Compress a stream of pieces as they come; raises ValueError for an unknown coding."""
    compress, flush = _compressor(coding)
    try:
        async for piece in pieces:
            out = compress(piece)
            if out:
                yield out
        tail = flush()
        if tail:
            yield tail
    finally:
        await pieces.aclose()
