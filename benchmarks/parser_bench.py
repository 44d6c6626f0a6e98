"""Throughput of the sans-IO :class:`~n58aio.wire.AtParser` on recorded-style modem output.

The stream is built in memory and cut into port-sized reads beforehand, so only the parser's
work is timed: ``receive_data`` per read, then ``next_event`` until ``NEED_DATA``, the loop the
channel runs, with the parser made as the channel makes it (``merge_payload=True``). The
reference on the same reads is a minimal incremental splitter built on ``bytearray.find`` and
``int`` (no validation, no events, no command tracking: the least Python work that still
extracts every chunk); ``memcpy`` is one copy of every read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from n58aio.emulator.origin import pattern_bytes
from n58aio.wire import NEED_DATA, AtParser, Payload, RawData, RawEnd

__all__ = [
    "mode0_stream",
    "mode1_stream",
    "parser_benchmark",
    "reads",
    "run_copy",
    "run_parser",
    "run_reference",
]

_CLOSE = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


def mode1_stream(chunk: int, total: int) -> bytes:
    """``total`` payload bytes as recvmode 1 reports of ``chunk`` bytes (the last may be
    shorter), framed like the module: ``\\r\\n+HTTPRECV: <len>,<data>\\r\\n``."""
    data = pattern_bytes(0, total)
    parts = []
    for pos in range(0, total, chunk):
        piece = data[pos : pos + chunk]
        parts.append(b"\r\n+HTTPRECV: %d," % len(piece) + piece + b"\r\n")
    return b"".join(parts)


def mode0_stream(total: int) -> bytes:
    """``total`` raw payload bytes in recvmode 0: the bare header, the bytes, the close report."""
    return b"\r\n+HTTPRECV:\r\n" + pattern_bytes(0, total) + _CLOSE


def reads(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into reads of ``size`` bytes, as a port would hand them over."""
    return [data[pos : pos + size] for pos in range(0, len(data), size)]


def channel_parser() -> AtParser:
    """A parser made as the channel makes it (``merge_payload``), or as an older tree can."""
    try:
        return AtParser(merge_payload=True)
    except TypeError:  # the n58aio of a --compare tree from before merge_payload
        return AtParser()


def run_parser(pieces: Sequence[bytes]) -> int:
    """Feed ``pieces`` to a fresh parser; return the payload bytes it delivered."""
    parser = channel_parser()
    receive, next_event = parser.receive_data, parser.next_event
    total = 0
    for piece in pieces:
        receive(piece)
        while (event := next_event()) is not NEED_DATA:
            if isinstance(event, Payload | RawData):
                total += len(event.data)
            elif isinstance(event, RawEnd):
                total -= event.retract
    return total


def run_reference(pieces: Sequence[bytes]) -> int:
    """Minimal ``find``-based splitter of either receive mode; return the payload bytes."""
    buf = bytearray()
    total = 0
    need = -1  # -1: looking for a header, -2: raw mode, else payload bytes still expected
    for piece in pieces:
        buf += piece
        pos = 0
        while True:
            if need == -2:
                end = buf.find(b"\r\n+HTTPCLOSED:", pos)
                stop = len(buf) - 15 if end < 0 else end
                if stop > pos:
                    total += len(bytes(buf[pos:stop]))
                    pos = stop
                if end >= 0:
                    need, pos = -1, end + 2
                break
            if need == -1:
                start = buf.find(b"+HTTPRECV:", pos)
                if start < 0:
                    break
                comma = buf.find(b",", start + 10, start + 24)
                newline = buf.find(b"\n", start + 10, start + 24)
                if comma < 0 or 0 <= newline < comma:
                    if newline < 0:
                        break
                    need, pos = -2, newline + 1  # a bare header: raw bytes follow
                    continue
                need, pos = int(buf[start + 10 : comma]), comma + 1
            if len(buf) - pos < need:
                break
            total += len(bytes(buf[pos : pos + need]))
            pos += need
            need = -1
        del buf[:pos]
    return total


def run_copy(pieces: Sequence[bytes]) -> int:
    """One copy of every read: the memcpy rate of the same data."""
    total = 0
    for piece in pieces:
        total += len(bytearray(piece))
    return total


def _best(func: Callable[[Sequence[bytes]], int], pieces: Sequence[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func(pieces)
        best = min(best, time.perf_counter() - start)
    return best


def parser_benchmark(
    total: int,
    *,
    chunks: Sequence[int] = (64, 1024, 16384),
    read_sizes: Sequence[int] = (4096, 65536),
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Measure parser, reference and copy on every (mode, chunk, read size) combination.

    Returns one dict per combination: ``mode``, ``chunk`` (None for recvmode 0), ``read``,
    ``payload``/``wire`` bytes, and ``parser``/``reference``/``copy`` rates in MB/s of
    payload (best of ``repeat``), with ``ratio`` = parser / reference.
    """
    cases: list[tuple[str, int | None, bytes]] = [
        ("recvmode1", chunk, mode1_stream(chunk, total)) for chunk in chunks
    ]
    cases.append(("recvmode0", None, mode0_stream(total)))
    results: list[dict[str, Any]] = []
    for mode, chunk, stream in cases:
        for read_size in read_sizes:
            pieces = reads(stream, read_size)
            got, expected = run_parser(pieces), run_reference(pieces)
            if got != total or expected != total:
                raise RuntimeError(f"{mode} chunk={chunk}: parser {got}, reference {expected}")
            rates = {
                name: total / 1e6 / _best(func, pieces, repeat)
                for name, func in (
                    ("parser", run_parser),
                    ("reference", run_reference),
                    ("copy", run_copy),
                )
            }
            results.append(
                {
                    "mode": mode,
                    "chunk": chunk,
                    "read": read_size,
                    "payload": total,
                    "wire": len(stream),
                    **rates,
                    "ratio": rates["parser"] / rates["reference"],
                }
            )
    return results
