"""httpx requests sent through the modem with ModemTransport."""

from __future__ import annotations

import asyncio
import base64
import socket

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


async def test_httpx_timeouts_apply(modem: n58aio.Modem, origin_server: OriginServer) -> None:
    loop = asyncio.get_running_loop()
    slow = origin_server.url("/bytes/10?delay=4")
    transport = n58aio.ModemTransport(modem)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10, read=1)) as client:
        started = loop.time()
        with pytest.raises(httpx.ReadTimeout) as caught:
            await client.get(slow)
        assert loop.time() - started < 3.5
        assert isinstance(caught.value.__cause__, n58aio.ReadTimeout)
        started = loop.time()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(slow, timeout=1.0)
        assert loop.time() - started < 3.5
        # the whole answer within the limits: no timeout
        got = await client.get(origin_server.url("/bytes/10?delay=0.3"))
        assert got.content == pattern_bytes(0, 10)

        # pool: waiting for the modem while another request holds it
        busy = asyncio.ensure_future(client.get(origin_server.url("/bytes/3?delay=2"), timeout=5))
        await asyncio.sleep(0.3)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(origin_server.url("/bytes/1"), timeout=httpx.Timeout(5, pool=0.4))
        assert (await busy).content == pattern_bytes(0, 3)


def test_httpx_timeout_extension_mapping() -> None:
    from n58aio.http.httpx_transport import modem_timeouts

    mapped = modem_timeouts({"connect": 2.0, "read": 3.0, "write": 4.0, "pool": 5.0})
    assert mapped == n58aio.Timeouts(connect=2, write=4, first_byte=3, idle=3, pool=5)
    assert modem_timeouts({"connect": None, "read": None, "write": None, "pool": None}) is None
    partial = modem_timeouts({"connect": None, "read": 1.0, "write": None, "pool": None})
    assert partial == n58aio.Timeouts(30, read=1, pool=None)


async def test_httpx_connect_errors_name_host_and_port(
    modem: n58aio.Modem, tls_origin: OriginServer
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}") as caught:
            await client.get(f"http://127.0.0.1:{port}/")
        assert isinstance(caught.value.__cause__, n58aio.ConnectError)
    wrong_ca = n58aio.ModemTransport(modem, tls=n58aio.TLSConfig(ca_cert="cc.pem"))
    async with httpx.AsyncClient(transport=wrong_ca) as client:
        with pytest.raises(httpx.ConnectError, match=f"localhost:{tls_origin.port}") as caught:
            await client.get(f"https://localhost:{tls_origin.port}/bytes/1")
        assert isinstance(caught.value.__cause__, n58aio.TLSError)


async def test_httpx_requests_fit_the_module_budget(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        small = await client.post(origin_server.url("/echo"), content=b"s")
        seen = {n.lower(): v for n, v in small.json()["headers"]}
        assert "accept" not in seen  # */* is the same as no Accept
        assert seen["user-agent"].startswith("python-httpx/")

        # as much body as Modem.post sends: httpx's default headers give way, and a JSON POST
        # without headers of its own is written by the module itself (AT+HTTPACTION=2)
        value = "j" * 2030
        posted = await client.post(origin_server.url("/echo"), json={"k": value})
        assert posted.json()["body_len"] == len('{"k":""}') + 2030
        seen = {n.lower(): v for n, v in posted.json()["headers"]}
        assert "accept-encoding" not in seen and seen["user-agent"] == "N58-emulator"
        # any other method: the request line and the modem path's own headers count too
        body = b"b" * 1900
        full = await client.put(origin_server.url("/echo"), content=body)
        assert base64.b64decode(full.json()["body_b64"]) == body
        seen = {n.lower(): v for n, v in full.json()["headers"]}
        assert not seen["user-agent"].startswith("python-httpx")

        with pytest.raises(httpx.LocalProtocolError, match="budget of 2048 bytes") as caught:
            await client.put(origin_server.url("/echo"), content=body, headers={"X-Pad": "p" * 80})
        assert "X-Pad" in str(caught.value)
        assert isinstance(caught.value.__cause__, n58aio.RequestTooLarge)


async def test_httpx_follows_redirects_itself(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        url = origin_server.url("/redirect?to=/bytes/6")
        assert (await client.get(url)).status_code == 302
        followed = await client.get(url, follow_redirects=True)
        assert followed.content == pattern_bytes(0, 6)
        assert [r.status_code for r in followed.history] == [302]


def test_errors_map_by_kind() -> None:
    from n58aio.http.httpx_transport import _map_error

    cases: list[tuple[n58aio.N58Error, type[httpx.HTTPError]]] = [
        (n58aio.WriteTimeout("write", 1, "AT+HTTPACTION=0"), httpx.WriteTimeout),
        (n58aio.ConnectTimeout("connect", 1, "AT+HTTPSETUP"), httpx.ConnectTimeout),
        (n58aio.ReadTimeout("idle", 1), httpx.ReadTimeout),
        (n58aio.PoolTimeout("pool", 1), httpx.PoolTimeout),
        (n58aio.TLSError("h", 443, "AT+HTTPSSETUP", "ERROR"), httpx.ConnectError),
        (n58aio.LinkClosedError("gone"), httpx.RemoteProtocolError),
        (n58aio.RequestTooLarge("big", budget=2048, used=3000), httpx.LocalProtocolError),
    ]
    for error, mapped in cases:
        assert type(_map_error(error)) is mapped, error
