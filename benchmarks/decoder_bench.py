"""The content decoder's steps on ordinary and hostile bodies: how long the longest single
step holds the thread (CPU time, so other processes on the machine do not count), how much
work a body makes, peak memory.

``python -m benchmarks.decoder_bench`` prints one row per body. Each body is fed in 1460-byte
reads and drained step by step as :class:`~n58aio.http.Response` does.
"""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable

from n58aio.emulator.origin_coding import json_document
from n58aio.errors import DecodingError
from n58aio.http.encoding import DecompressionLimits, Step, make_decoder, supported_encodings

__all__ = ["decoder_benchmark", "hidden_padding"]

_LIFTED = DecompressionLimits(max_ratio=1e12)


def hidden_padding(document: bytes, padding_mib: int) -> bytes:
    """A ``deflate, deflate, gzip`` body: ``document`` as a zlib stream followed by
    ``padding_mib`` MiB of NUL bytes the last layer discards (the middle layer is raw deflate
    flushed every MiB, its blocks repeated rather than compressed)."""
    obj = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = obj.compress(zlib.compress(document)) + obj.flush(zlib.Z_FULL_FLUSH)
    block = obj.compress(bytes(1 << 20)) + obj.flush(zlib.Z_FULL_FLUSH)
    return gzip.compress(head + block * padding_mib + obj.flush(), 9)


_Body = tuple[str, str, Callable[[], bytes], DecompressionLimits | None]


def _members() -> bytes:
    return gzip.compress(b"".join(gzip.compress(b"member %d;" % i) for i in range(1000)), 9)


def _zstd_zeros() -> bytes:
    import zstandard

    return bytes(zstandard.ZstdCompressor(level=19).compress(bytes(256 << 20)))


def _br_zeros() -> bytes:
    import brotli

    return bytes(brotli.compress(bytes(256 << 20)))


def _bodies() -> list[_Body]:
    """(name, Content-Encoding, body maker, limits): made only when measured."""
    doc = json_document(1_000_000)
    rows: list[_Body] = [
        ("1 MB JSON, gzip", "gzip", lambda: gzip.compress(doc), None),
        ("cat a.gz b.gz (2 x 500 kB)", "gzip", lambda: gzip.compress(doc[:500_000]) * 2, None),
        ("1,000 tiny members, gzip, gzip", "gzip, gzip", _members, None),
        (
            "50 MB zeros, gzip (default limits)",
            "gzip",
            lambda: gzip.compress(bytes(50 << 20)),
            None,
        ),
        (
            "8 GiB hidden padding, deflate, deflate, gzip (max_size 1 MB)",
            "deflate, deflate, gzip",
            lambda: hidden_padding(b"hello", 8192),
            DecompressionLimits(max_size=1_000_000),
        ),
        (
            "256 MiB hidden padding, limits lifted",
            "deflate, deflate, gzip",
            lambda: hidden_padding(b"hello", 256),
            _LIFTED,
        ),
    ]
    if "zstd" in supported_encodings():
        rows.append(("256 MiB zeros, zstd, limits lifted", "zstd", _zstd_zeros, _LIFTED))
    if "br" in supported_encodings():
        rows.append(("256 MiB zeros, br, limits lifted", "br", _br_zeros, _LIFTED))
    return rows


def _measure(
    header: str, wire: bytes, limits: DecompressionLimits | None, clock: Callable[[], float]
) -> dict[str, object]:
    decoder = make_decoder(header, limits)
    assert decoder is not None
    longest = 0.0
    steps = 0
    outcome = "decoded"
    started = clock()

    def drain() -> Step:
        nonlocal longest, steps
        while True:
            before = clock()
            got = decoder.next_piece()
            longest = max(longest, clock() - before)
            steps += 1
            if got is Step.NEED_DATA or got is Step.DONE:
                return got

    try:
        for start in range(0, len(wire), 1460):
            decoder.feed(wire[start : start + 1460])
            drain()
        decoder.feed_eof()
        drain()
    except DecodingError as exc:
        outcome = type(exc).__name__
    return {
        "wire": len(wire),
        "decoded": decoder.decoded,
        "outcome": outcome,
        "steps": steps,
        "work": decoder.work,
        "longest_step_work": decoder.longest_step,
        "longest_step_ms": round(longest * 1000, 3),
        "total_ms": round((clock() - started) * 1000, 1),
    }


def decoder_benchmark(
    names: tuple[str, ...] | None = None, *, memory: bool = True
) -> list[dict[str, object]]:
    """One row per body (all, or those whose name starts with one of ``names``)."""
    rows = []
    for name, header, make, limits in _bodies():
        if names is not None and not name.startswith(names):
            continue
        wire = make()
        row: dict[str, object] = {"body": name}
        row.update(_measure(header, wire, limits, time.thread_time))
        if memory:
            tracemalloc.start()
            try:
                _measure(header, wire, limits, time.thread_time)
                row["peak_memory"] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        rows.append(row)
    return rows


if __name__ == "__main__":  # pragma: no cover - a command-line entry
    for result in decoder_benchmark():
        print(result)
