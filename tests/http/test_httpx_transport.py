"""httpx requests sent through the modem with ModemTransport."""

from __future__ import annotations

import httpx
import pytest

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes


async def test_httpx_calls_through_the_modem(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        got = await client.get(origin_server.url("/bytes/9000"))
        assert got.status_code == 200
        assert got.content == pattern_bytes(0, 9000)
        assert got.http_version == "HTTP/1.1"
        assert got.reason_phrase == "OK"

        posted = await client.post(origin_server.url("/echo"), json={"k": [1, 2]})
        assert posted.json()["method"] == "POST"
        assert posted.json()["content_type"] == "application/json"

        patched = await client.patch(
            origin_server.url("/echo"), content=b"abc", headers={"X-Trace": "t1"}
        )
        seen = {n.lower(): v for n, v in patched.json()["headers"]}
        assert patched.json()["method"] == "PATCH"
        assert seen["x-trace"] == "t1"
        assert seen["user-agent"].startswith("python-httpx")

        missing = await client.get(origin_server.url("/status/404"))
        assert missing.status_code == 404
        with pytest.raises(httpx.HTTPStatusError):
            missing.raise_for_status()


async def test_httpx_streaming_response(modem: n58aio.Modem, origin_server: OriginServer) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        received = bytearray()
        async with client.stream("GET", origin_server.url("/bytes/200000?chunked=1")) as resp:
            async for chunk in resp.aiter_bytes():
                received += chunk
        assert bytes(received) == pattern_bytes(0, 200000)
        # leave a stream early: the next request still works
        async with client.stream("GET", origin_server.url("/bytes/500000")) as resp:
            async for _ in resp.aiter_raw():
                break
        again = await client.get(origin_server.url("/bytes/10"))
        assert again.content == pattern_bytes(0, 10)


async def test_httpx_errors_map_to_httpx_exceptions(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.post(origin_server.url("/echo"), content=b"x" * 3000)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(origin_server.url("/bytes/10000?cut=100"))
        assert (await client.get(origin_server.url("/bytes/1"))).content == pattern_bytes(0, 1)


async def test_httpx_over_https(modem: n58aio.Modem, tls_origin: OriginServer) -> None:
    transport = n58aio.ModemTransport(modem, tls=n58aio.TLSConfig(ca_cert="ca.pem"))
    async with httpx.AsyncClient(transport=transport) as client:
        got = await client.get(f"https://localhost:{tls_origin.port}/bytes/3000")
        assert got.content == pattern_bytes(0, 3000)
