"""The content decoder against hostile bodies (issue #21 items 1-4): exact multi-member and
stacked decoding in any split, work and memory bounded per step and per body, a bounded number
of codings, and an event loop that keeps running while a body decodes."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from n58aio import Headers, Response
from n58aio.emulator.origin_coding import json_document
from n58aio.errors import DecodingError, DecompressionLimitError, N58Error
from n58aio.http import encoding
from n58aio.http.encoding import (
    CALL_WORK,
    MAX_CODINGS,
    PIECE,
    STEP_WORK,
    ContentDecoder,
    DecompressionLimits,
    Step,
    make_decoder,
)

A = json_document(100_000)[:100_000]
B = bytes(range(256)) * 300 + b"tail" * 5000  # compresses differently: 96,800 bytes


def _run(decoder: ContentDecoder, chunks: list[bytes]) -> bytes:
    """Decode ``chunks`` step by step; every step within its budget, pieces within PIECE."""
    pieces: list[bytes] = []

    def drain() -> Step:
        while True:
            got = decoder.next_piece()
            assert decoder.longest_step <= STEP_WORK + CALL_WORK
            if got is Step.PAUSE:
                continue
            if isinstance(got, Step):
                return got
            assert 0 < len(got) <= PIECE
            pieces.append(got)

    for chunk in chunks:
        decoder.feed(chunk)
        assert drain() is Step.NEED_DATA
        assert all(layer.waiting <= len(chunk) + PIECE for layer in decoder.layers)
    decoder.feed_eof()
    assert drain() is Step.DONE
    return b"".join(pieces)


def _decode(header: str, wire: bytes, cuts: list[int] | None = None, **limits: float) -> bytes:
    decoder = make_decoder(header, DecompressionLimits(**limits))  # type: ignore[arg-type]
    assert decoder is not None
    points = sorted({0, len(wire), *(c for c in (cuts or []) if 0 < c < len(wire))})
    return _run(decoder, [wire[a:b] for a, b in itertools.pairwise(points)])


def _deflate(data: bytes, raw: bool = False) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


ENCODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": _deflate,
    "br": lambda data: bytes(brotli.compress(data)),
    "zstd": lambda data: bytes(zstandard.ZstdCompressor().compress(data)),
}
REFERENCE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,  # every member, as gzip(1) and RFC 1952
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: (
        zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data)
    ),
}


# ------------------------------------------------------------------ 1. exact multi-member


def test_cat_of_two_gzip_files_decodes_exactly_in_every_split() -> None:
    """``cat a.gz b.gz``: 196,800 bytes, never the second member twice; the split points cover
    every byte around the member boundary and a stride of the rest."""
    first = gzip.compress(A)
    wire = first + gzip.compress(B)
    assert gzip.decompress(wire) == A + B
    boundary = len(first)
    points = [*range(max(1, boundary - 40), boundary + 40), *range(1, len(wire), 997)]
    for cut in points:
        assert _decode("gzip", wire, [cut]) == A + B, cut
    assert _decode("gzip", wire, list(range(0, len(wire), 1))) == A + B  # byte by byte


@pytest.mark.parametrize("piece", [1, 7, 512, 4096, 65536])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_a_member_that_ends_where_the_output_cap_does(
    monkeypatch: pytest.MonkeyPatch, piece: int, extra: int
) -> None:
    """The output cap reached in the call that ends a member (the duplicated-tail bug): the
    first member's size is a multiple of the cap, one less or one more."""
    monkeypatch.setattr(encoding, "PIECE", piece)
    first = A[: max(1, 3 * piece + extra)]
    wire = gzip.compress(first) + gzip.compress(B[:20_000]) + gzip.compress(b"z")
    for cut in (1, 5, 100, 4096, len(wire)):
        assert _decode("gzip", wire, list(range(0, len(wire), cut))) == first + B[:20_000] + b"z"


def test_padding_trailing_bytes_and_frames() -> None:
    """What follows a stream, decided as urllib3 does (docs/reliability.md)."""
    members = gzip.compress(b"one") + bytes(700) + gzip.compress(b"two") + bytes(3)
    assert _decode("gzip", members, [1, 10, 700]) == b"onetwo"
    with pytest.raises(DecodingError, match="bad gzip data"):
        _decode("gzip", gzip.compress(b"one") + b"garbage after the member")
    with pytest.raises(DecodingError, match="gzip data ended before"):
        _decode("gzip", gzip.compress(b"one") + gzip.compress(b"two")[:-3])
    assert _decode("deflate", _deflate(b"one") + b"ignored: deflate is one stream") == b"one"
    assert _decode("deflate", _deflate(b"raw", raw=True) + b"x", [1, 2]) == b"raw"
    with pytest.raises(DecodingError, match="bad br data"):  # brotli itself refuses them
        _decode("br", ENCODE["br"](b"one") + b"after the end")
    frames = ENCODE["zstd"](b"one") + ENCODE["zstd"](b"two")
    assert _decode("zstd", frames, list(range(len(frames)))) == b"onetwo"
    with pytest.raises(DecodingError, match="zstd data ended"):
        _decode("zstd", frames[:-2])
    assert _decode("gzip", b"") == b""  # an empty body (HEAD, 204) is no error


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[str, bytes, bytes, list[int]]:
    """A stacked body whose layers may be several gzip members or zstd frames."""
    document = draw(st.binary(max_size=3000)) * draw(st.integers(1, 40))
    data = document
    applied = []
    for _ in range(draw(st.integers(1, 3))):
        coding = draw(st.sampled_from(sorted(ENCODE)))
        parts = 1 if coding in ("deflate", "br") else draw(st.integers(1, 3))
        bounds = sorted(
            draw(st.lists(st.integers(0, len(data)), min_size=parts - 1, max_size=parts - 1))
        )
        spans = zip([0, *bounds], [*bounds, len(data)], strict=True)
        data = b"".join(ENCODE[coding](data[a:b]) for a, b in spans)
        applied.append(coding)
    cuts = draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12))
    return ", ".join(applied), document, data, cuts


@settings(max_examples=120, deadline=None)
@given(_bodies())
def test_any_split_of_any_valid_body_decodes_as_the_reference(
    body: tuple[str, bytes, bytes, list[int]],
) -> None:
    header, document, wire, cuts = body
    reference = wire
    for coding in reversed(header.split(", ")):
        reference = REFERENCE[coding](reference)
    assert reference == document
    assert _decode(header, wire, cuts, max_ratio=1e9) == document


# ------------------------------------------------------------------ 2/3. work and memory


def test_a_gzip_gzip_body_of_a_thousand_members_stays_small() -> None:
    """A few hundred bytes of ``gzip, gzip`` whose inner layer is 1,000 tiny members: decoded
    exactly, in a few hundred KB of memory (it once grew to 1.5 GiB)."""
    inner = b"".join(gzip.compress(b"member %d;" % i) for i in range(1000))
    wire = gzip.compress(inner, 9)
    assert len(wire) < 12_000
    tracemalloc.start()
    try:
        out = _decode("gzip, gzip", wire, list(range(0, len(wire), 100)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == b"".join(b"member %d;" % i for i in range(1000))
    assert peak < 2_000_000
    same = gzip.compress(gzip.compress(b"x") * 1000, 9)  # about 120 bytes
    assert _decode("gzip, gzip", same, [7, 50]) == b"x" * 1000


def _padded(document: bytes, padding_mib: int) -> bytes:
    """``deflate, deflate, gzip``: ``document`` as a zlib stream followed by ``padding_mib``
    MiB of NUL bytes that the last layer discards, each layer compressed again. The middle
    stream is raw deflate flushed after every MiB, so its MiB blocks are the same bytes and are
    repeated rather than compressed (8 GiB in a blink)."""
    obj = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = obj.compress(zlib.compress(document)) + obj.flush(zlib.Z_FULL_FLUSH)
    block = obj.compress(bytes(1 << 20)) + obj.flush(zlib.Z_FULL_FLUSH)
    middle = head + block * padding_mib + obj.flush()
    return gzip.compress(middle, 9)


def test_hidden_padding_is_refused_early_with_little_work() -> None:
    """The 8 GiB of discarded padding that held the loop for 19 s: refused once a layer has
    produced 200 times the wire bytes, after a few MB of work, in bounded memory."""
    wire = _padded(b"hello", 8192)
    assert len(wire) < 40_000
    decoder = make_decoder("deflate, deflate, gzip", DecompressionLimits(max_size=1_000_000))
    assert decoder is not None
    tracemalloc.start()
    try:
        with pytest.raises(DecompressionLimitError, match="deflate layer output"):
            _run(decoder, [wire[i : i + 1460] for i in range(0, len(wire), 1460)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoder.work < 5_000_000
    assert peak < 2_000_000


def test_hidden_padding_within_the_limits_is_worked_through_in_bounded_steps() -> None:
    """Limits lifted: the body decodes to its 5 bytes, step by step (each within its budget,
    checked by _run), the work counted at every layer."""
    wire = _padded(b"hello", 48)
    decoder = make_decoder("deflate, deflate, gzip", DecompressionLimits(max_ratio=1e9))
    assert decoder is not None
    assert _run(decoder, [wire]) == b"hello"
    discarded = 48 << 20
    assert decoder.layers[1].produced > discarded  # the padding, produced by the middle layer
    assert decoder.work > 2 * discarded  # produced there, then consumed by the last layer


def test_limits_hold_every_layer_and_name_it() -> None:
    inner = gzip.compress(bytes(3_000_000))  # a layer's output past max_size
    with pytest.raises(DecompressionLimitError, match="gzip layer output passed max_size=2000"):
        _decode("gzip, gzip", gzip.compress(inner), max_size=2000)
    with pytest.raises(DecompressionLimitError, match="decoded body passed max_size=2000"):
        _decode("gzip", gzip.compress(bytes(3000)), max_size=2000)


async def _body(wire: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(wire), 1460):
        yield wire[start : start + 1460]


async def test_the_event_loop_runs_between_steps() -> None:
    """A body that makes much work with little output: another task runs between every two
    steps of ``aread``, counted by the loop, not by the clock."""
    wire = _padded(b"hello", 64)
    headers = Headers([("Content-Encoding", "deflate, deflate, gzip")])
    answer = Response(
        status_code=200,
        reason="OK",
        http_version="HTTP/1.1",
        headers=headers,
        url="http://origin.test/",
        method="GET",
        body=lambda: _body(wire),
        closer=_noop,
        decompression=DecompressionLimits(max_ratio=1e9),
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        assert await answer.aread() == b"hello"
    finally:
        task.cancel()
    # 64 MiB produced and consumed again: at least 2 * 64 MiB / STEP_WORK steps
    assert ticks >= 2 * (64 << 20) // STEP_WORK


async def _noop() -> None:
    return None


# ------------------------------------------------------------------ 4. how many codings


def test_at_most_a_handful_of_codings_decoded_iteratively() -> None:
    stacked = b"five times"
    for _ in range(MAX_CODINGS):
        stacked = gzip.compress(stacked)
    assert _decode(", ".join(["gzip"] * MAX_CODINGS), stacked, [3, 50]) == b"five times"
    for count in (MAX_CODINGS + 1, 1000, 100_000):
        with pytest.raises(DecodingError, match=f"lists {count} codings: at most 5") as info:
            make_decoder(", ".join(["gzip"] * count))
        assert isinstance(info.value, N58Error)
    assert make_decoder("identity, identity") is None
