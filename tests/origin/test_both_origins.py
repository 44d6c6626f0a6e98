"""The same requests against OriginServer and against nginx (Debian's, its own config).

HTTP and HTTPS GETs in both receive modes, chunked bodies, ranges, keep-alive, compressed
responses and verified downloads: the client and the emulator must work with a real server,
and OriginServer must answer as nginx does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import ContentOrigin, ModemFactory

from n58aio import TLSConfig
from n58aio.emulator.nginx import NginxOrigin
from n58aio.emulator.origin import pattern_bytes, pattern_sha256
from n58aio.emulator.origin_coding import json_document
from n58aio.http import accept_encoding

RECV_MODES = pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])
OFFER = {"Accept-Encoding": accept_encoding()}


def chunked(origin: ContentOrigin, path: str) -> str:
    """A chunked response of ``path``: nginx through SSI, OriginServer with ``chunked=1``."""
    if isinstance(origin, NginxOrigin):
        return origin.url("/chunked" + path)
    return origin.url(path + "?chunked=1&chunk=777")


@RECV_MODES
async def test_get_with_length_and_chunked(
    make_modem: ModemFactory, content_origin: ContentOrigin, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    plain = await modem.get(content_origin.url("/bytes/20000"))
    assert plain.status_code == 200
    assert plain.headers["content-length"] == "20000"
    assert plain.headers["accept-ranges"] == "bytes"
    assert plain.content == pattern_bytes(0, 20000)
    body = await modem.get(chunked(content_origin, "/bytes/30001"))
    assert body.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in body.headers
    assert body.content == pattern_bytes(0, 30001)
    head = await modem.request("HEAD", content_origin.url("/bytes/20000"))
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "20000", b"")
    missing = await modem.get(content_origin.url("/nothing-here"))
    assert missing.status_code == 404


@RECV_MODES
async def test_https_get_verified(
    make_modem: ModemFactory, content_tls_origin: ContentOrigin, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode, tls=TLSConfig(ca_cert="ca.pem"))
    response = await modem.get(content_tls_origin.url("/bytes/25000"))
    assert response.content == pattern_bytes(0, 25000)
    packed = await modem.get(content_tls_origin.url("/json/40000"), headers=OFFER)
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == json_document(40000)


async def test_ranges_and_unsatisfiable_ranges(
    make_modem: ModemFactory, content_origin: ContentOrigin
) -> None:
    _, modem = await make_modem()
    part = await modem.get(content_origin.url("/bytes/50000"), offset=1000, size=2345)
    assert part.status_code == 206
    assert part.headers["content-range"] == "bytes 1000-3344/50000"
    assert part.content == pattern_bytes(1000, 2345)
    tail = await modem.get(content_origin.url("/bytes/50000"), offset=49000, size=5000)
    assert tail.headers["content-range"] == "bytes 49000-49999/50000"
    assert tail.content == pattern_bytes(49000, 1000)
    beyond = await modem.get(content_origin.url("/bytes/50000"), offset=60000, size=10)
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */50000"
    # a ranged GET offers no coding: the JSON range comes as identity bytes
    json_part = await modem.get(content_origin.url("/json/50000"), offset=10, size=100)
    assert json_part.status_code == 206
    assert "content-encoding" not in json_part.headers
    assert json_part.content == json_document(50000)[10:110]


async def test_keepalive_reuses_one_connection(
    make_modem: ModemFactory, content_origin: ContentOrigin
) -> None:
    _, modem = await make_modem(keepalive=True)
    for size in (1000, 20000, 300):
        response = await modem.get(content_origin.url(f"/bytes/{size}"))
        assert response.content == pattern_bytes(0, size)
    packed = await modem.get(content_origin.url("/json/30000"), headers=OFFER)
    assert packed.content == json_document(30000)
    assert packed.headers["content-encoding"] == "gzip"
    assert content_origin.connections_opened == 1


@RECV_MODES
async def test_compressed_json(
    make_modem: ModemFactory, content_origin: ContentOrigin, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    async with modem.stream("GET", content_origin.url("/json/300000"), headers=OFFER) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-type"] == "application/json"
        assert "content-length" not in response.headers
        assert "accept-ranges" not in response.headers
        pieces = [piece async for piece in response.aiter_bytes()]
    assert b"".join(pieces) == json_document(300_000)
    assert response.num_bytes_downloaded < 300_000 / 4
    packed_chunked = await modem.get(chunked(content_origin, "/json/20000"), headers=OFFER)
    assert packed_chunked.content == json_document(20000)
    identity = await modem.get(
        content_origin.url("/json/20000"), headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in identity.headers
    assert identity.content == json_document(20000)


@RECV_MODES
async def test_verified_download(
    make_modem: ModemFactory, content_origin: ContentOrigin, tmp_path: Path, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    target = tmp_path / "file.bin"
    async with asyncio.timeout(60):
        result = await modem.download(
            content_origin.url("/bytes/1200000"), target, sha256=pattern_sha256(1_200_000)
        )
    assert result.size == 1_200_000 and result.retries == 0
    assert target.read_bytes() == pattern_bytes(0, 1_200_000)
    packed = tmp_path / "doc.json"
    result = await modem.download(content_origin.url("/json/100000"), packed)
    assert packed.read_bytes() == json_document(100000)  # identity: the bytes of the file
