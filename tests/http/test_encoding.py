"""Content decoding, sans-IO: every coding in any split, bounded pieces, limits, bad data."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n58aio.emulator.origin_coding import json_document
from n58aio.errors import DecodingError, DecompressionLimitError, N58Error
from n58aio.http.encoding import (
    PIECE,
    DecompressionLimits,
    accept_encoding,
    make_decoder,
    supported_encodings,
)

DOC = json_document(300_000)


def _encode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "raw-deflate":
        obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return obj.compress(data) + obj.flush()
    if coding == "br":
        import brotli

        return bytes(brotli.compress(data))
    if coding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdCompressor().compress(data))
    raise AssertionError(coding)


CODINGS = [*supported_encodings(), "raw-deflate"]


def _decode_all(
    header: str, wire: bytes, cut: int, limits: DecompressionLimits | None = None
) -> list[bytes]:
    decoder = make_decoder(header, limits)
    assert decoder is not None
    pieces: list[bytes] = []
    for start in range(0, len(wire), cut):
        pieces += list(decoder.feed(wire[start : start + cut]))
    pieces += list(decoder.finish())
    return pieces


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("cut", [1, 1460, 1 << 20])
def test_every_coding_decodes_in_any_split(coding: str, cut: int) -> None:
    wire = _encode(coding, DOC)
    header = "deflate" if coding == "raw-deflate" else coding
    pieces = _decode_all(header, wire, cut)
    assert b"".join(pieces) == DOC
    assert max(len(p) for p in pieces) <= PIECE


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=40))
def test_gzip_any_cut_points(cuts: list[int]) -> None:
    wire = gzip.compress(DOC[:50_000])
    decoder = make_decoder("gzip")
    assert decoder is not None
    out: list[bytes] = []
    pos = 0
    for cut in cuts:
        out += list(decoder.feed(wire[pos : pos + cut]))
        pos += cut
    out += list(decoder.feed(wire[pos:]))
    out += list(decoder.finish())
    assert b"".join(out) == DOC[:50_000]


def test_stacked_codings_and_gzip_members() -> None:
    inner = zlib.compress(DOC[:10_000])
    wire = gzip.compress(inner)
    assert b"".join(_decode_all("deflate, gzip", wire, 100)) == DOC[:10_000]
    members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert b"".join(_decode_all("gzip", members, 5)) == b"first second"
    assert make_decoder("identity") is None and make_decoder(None) is None


def test_truncated_or_bad_data_is_a_decoding_error() -> None:
    wire = gzip.compress(DOC[:10_000])
    with pytest.raises(DecodingError, match="ended before"):
        _decode_all("gzip", wire[:-10], 1000)
    with pytest.raises(DecodingError, match="bad gzip data"):
        _decode_all("gzip", b"not gzip at all", 1000)
    with pytest.raises(DecodingError, match="cannot decode Content-Encoding 'compress'"):
        make_decoder("compress")
    assert issubclass(DecodingError, N58Error)


def test_a_bomb_is_refused_with_bounded_memory() -> None:
    wire = gzip.compress(bytes(50_000_000))  # about 50 kB of gzip
    decoder = make_decoder("gzip")
    assert decoder is not None
    produced = 0
    with pytest.raises(DecompressionLimitError, match="decompression bomb"):
        for piece in decoder.feed(wire):
            produced += len(piece)
    # refused at the first piece past the ratio: far below the 50 MB
    assert produced <= 200 * len(wire) + PIECE
    with pytest.raises(DecompressionLimitError, match="max_size=100000"):
        _decode_all("gzip", gzip.compress(DOC), 4096, DecompressionLimits(max_size=100_000))
    # an ordinary JSON document passes the default limits
    assert b"".join(_decode_all("gzip", gzip.compress(DOC), 4096)) == DOC


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        DecompressionLimits(max_ratio=0.5)
    with pytest.raises(ValueError):
        DecompressionLimits(max_size=-1)


def test_accept_encoding_lists_what_decodes() -> None:
    value = accept_encoding()
    assert value.startswith("gzip, deflate")
    assert value.split(", ") == list(supported_encodings())


def test_when_the_offer_is_made() -> None:
    from n58aio.http import ModuleURL, plan_request

    url = ModuleURL.parse("http://origin.test/json/100")
    plain = plan_request("GET", url, compress=False)
    assert (plain.action, plain.body) == ("AT+HTTPACTION=0", None)  # the module's own GET
    default = plan_request("GET", url)  # asks by default, as httpx: a custom packet
    assert default.body == (
        b"GET /json/100 HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: "
        + accept_encoding().encode()
        + b"\r\nUser-Agent: n58aio\r\nConnection: close\r\n\r\n"
    )
    assert default.action == f"AT+HTTPACTION=99,{len(default.body)}"
    custom = plan_request("GET", url, headers={"X-A": "1"})  # a custom packet anyway
    assert custom.body is not None and b"\r\nAccept-Encoding: gzip, deflate" in custom.body
    asked = plan_request("GET", url, compress=True)
    assert asked.body is not None and b"\r\nAccept-Encoding: gzip, deflate" in asked.body
    assert asked.action == f"AT+HTTPACTION=99,{len(asked.body)}"
    never = plan_request("DELETE", url, compress=False)
    assert never.body is not None and b"Accept-Encoding" not in never.body
    for quiet in (
        plan_request("GET", url, offset=0, size=10, headers={"X-A": "1"}, compress=True),
        plan_request("GET", url, headers={"Range": "bytes=0-1"}, compress=True),
        plan_request("GET", url, headers={"Accept-Encoding": "identity"}, compress=True),
    ):
        assert quiet.body is not None and quiet.body.count(b"Accept-Encoding") <= 1
        assert b"gzip" not in quiet.body
    assert plan_request("HEAD", url, compress=True).action == "AT+HTTPACTION=1"
    posted = plan_request("POST", url, json={"a": 1}, compress=True)
    assert posted.action.startswith("AT+HTTPACTION=2,")
    # near the 2048-byte budget the offer is left out rather than the request refused
    full = plan_request("GET", url, headers={"X-A": "a" * 1930}, compress=True)
    assert full.body is not None and len(full.body) <= 2048 and b"Accept-Encoding" not in full.body
