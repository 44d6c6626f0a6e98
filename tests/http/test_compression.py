"""Compressed responses end to end: client -> pty -> emulator -> origin, both receive modes."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from conftest import ModemFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.origin_coding import CODINGS, json_document
from n58aio.http import DecompressionLimits, accept_encoding

RECV_MODES = pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])
OFFER = {"Accept-Encoding": accept_encoding()}
"""What ``plan_request(compress=True)`` sends; a plain GET offers nothing by itself (mode 0)."""


@RECV_MODES
async def test_json_comes_gzip_and_is_decoded(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    response = await modem.get(origin_server.url("/json/200000"), headers=OFFER)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    assert response.content == json_document(200_000)
    assert response.json()[0]["id"] == 0
    # wire bytes counted, a fraction of the decoded size
    assert 0 < response.num_bytes_downloaded < len(response.content) / 4
    request = origin_server.requests[-1]
    assert request.header("accept-encoding") == accept_encoding()


async def test_the_compress_option_on_a_plain_get(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    """A plain GET asks by default, as httpx (a custom packet: the module writes no such
    header); ``compress=False`` asks for nothing (the module writes it: AT+HTTPACTION=0)."""
    plain = await modem.get(origin_server.url("/json/20000"), compress=False)
    assert origin_server.requests[-1].header("accept-encoding") is None
    assert origin_server.requests[-1].header("user-agent") != "n58aio"  # the module wrote it
    assert "content-encoding" not in plain.headers
    asked = await modem.get(origin_server.url("/json/20000"))
    assert origin_server.requests[-1].header("accept-encoding") == accept_encoding()
    assert asked.headers["content-encoding"] == "gzip"
    assert asked.content == plain.content == json_document(20_000)
    assert asked.num_bytes_downloaded < plain.num_bytes_downloaded / 4
    await modem.get(origin_server.url("/json/100"), headers={"X-A": "1"}, compress=False)
    assert origin_server.requests[-1].header("accept-encoding") is None


@pytest.mark.parametrize("coding", CODINGS)
async def test_every_offered_coding_streams_decoded(
    make_modem: ModemFactory, origin_server: OriginServer, coding: str
) -> None:
    _, modem = await make_modem()
    url = origin_server.url(f"/bytes/150000?encoding={coding}&chunk=5000")
    async with modem.stream("GET", url, headers={"X-Trace": coding}) as response:
        assert response.headers["content-encoding"] == coding
        pieces = [piece async for piece in response.aiter_bytes()]
    assert b"".join(pieces) == pattern_bytes(0, 150_000)


async def test_aiter_raw_gives_the_wire_bytes(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with modem.stream("GET", origin_server.url("/json/50000"), headers=OFFER) as response:
        wire = b"".join([chunk async for chunk in response.aiter_raw()])
        with pytest.raises(RuntimeError, match="already streamed"):
            _ = [chunk async for chunk in response.aiter_bytes()]
    assert wire[:2] == b"\x1f\x8b"
    assert gzip.decompress(wire) == json_document(50_000)
    assert response.num_bytes_downloaded == len(wire)


async def test_a_custom_packet_and_a_plain_get_both_offer_by_default(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    custom = await modem.get(origin_server.url("/json/40000"), headers={"X-Trace": "1"})
    assert custom.headers["content-encoding"] == "gzip"
    assert custom.content == json_document(40000)
    assert origin_server.requests[-1].header("accept-encoding") == accept_encoding()
    plain = await modem.get(origin_server.url("/json/40000"))
    assert plain.headers["content-encoding"] == "gzip"
    assert plain.content == json_document(40000)
    assert origin_server.requests[-1].header("accept-encoding") == accept_encoding()
    assert origin_server.requests[-1].header("user-agent") == "n58aio"  # h11 wrote it


async def test_ranged_and_opted_out_requests_keep_identity(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    ranged = await modem.get(origin_server.url("/json/50000"), offset=100, size=1000)
    assert ranged.status_code == 206
    assert "content-encoding" not in ranged.headers
    assert ranged.content == json_document(50_000)[100:1100]
    assert origin_server.requests[-1].header("accept-encoding") is None
    plain = await modem.get(
        origin_server.url("/json/50000"), headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-length"] == str(len(json_document(50_000)))
    assert plain.content == json_document(50_000)
    head = await modem.request("HEAD", origin_server.url("/json/50000"))
    assert head.content == b""
    assert origin_server.requests[-1].header("accept-encoding") is None


async def test_a_decompression_bomb_is_refused(make_modem: ModemFactory, tmp_path: Path) -> None:
    (tmp_path / "zeros").write_bytes(bytes(30_000_000))  # about 30 kB as gzip
    async with OriginServer(files=tmp_path) as origin:
        _, modem = await make_modem()
        with pytest.raises(n58aio.DecompressionLimitError, match="decompression bomb"):
            await modem.get(origin.url("/files/zeros?encoding=gzip"), headers=OFFER)
        # the link is usable afterwards, and a size limit is the caller's to set
        async with modem.stream("GET", origin.url("/json/300000"), headers=OFFER) as response:
            response.decompression = DecompressionLimits(max_size=100_000)
            with pytest.raises(n58aio.DecompressionLimitError, match="max_size=100000"):
                await response.aread()
        again = await modem.get(origin.url("/json/1000"))
        assert again.content == json_document(1000)


async def test_httpx_through_the_modem_decodes_once(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    transport = n58aio.ModemTransport(modem)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(origin_server.url("/json/80000"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == json_document(80_000)
    assert "gzip" in (origin_server.requests[-1].header("accept-encoding") or "")
