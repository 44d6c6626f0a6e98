"""End-to-end HTTP requests: client -> real pty -> emulator -> real local origin server."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import ModemFactory

import n58aio
from n58aio.channel.port import READ_SIZE
from n58aio.emulator.origin import OriginServer, pattern_bytes

RECV_MODES = pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])


@RECV_MODES
async def test_get_content_length(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    response = await modem.request("GET", origin_server.url("/bytes/20000"))
    assert response.status_code == 200
    assert response.reason == "OK"
    assert response.headers["content-length"] == "20000"
    assert response.content == pattern_bytes(0, 20000)
    assert origin_server.requests[-1].method == "GET"
    assert origin_server.requests[-1].path == "/bytes/20000"


@RECV_MODES
async def test_chunked_and_close_delimited_bodies(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    chunked = await modem.request("GET", origin_server.url("/bytes/30001?chunked=1&chunk=777"))
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert chunked.content == pattern_bytes(0, 30001)
    closed = await modem.request("GET", origin_server.url("/bytes/12345?close=1"))
    assert "content-length" not in closed.headers
    assert closed.content == pattern_bytes(0, 12345)


@RECV_MODES
async def test_body_ending_in_crlf_and_report_text_is_exact(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    """Bodies holding CRLF, OK and a +HTTPRECV-like text come back byte for byte."""
    _, modem = await make_modem(recvmode=recvmode)
    body = b"line\r\nOK\r\n+HTTPRECV: 5,abc\r\n\x00\x1a\r\n"
    await modem.request("POST", origin_server.url("/upload/x"), content=body)
    echoed = await modem.request("POST", origin_server.url("/echo"), content=body)
    assert echoed.json()["body_len"] == len(body)
    assert origin_server.uploads["x"] == body


async def test_stream_yields_chunks_as_they_arrive(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    chunks: list[bytes] = []
    size = 500_000
    async with modem.stream("GET", origin_server.url(f"/bytes/{size}")) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
    # one chunk per wake-up of the reader, which takes at most READ_SIZE bytes at a time
    assert len(chunks) > size // READ_SIZE
    assert b"".join(chunks) == pattern_bytes(0, size)
    assert response.num_bytes_downloaded == size


@RECV_MODES
async def test_head(make_modem: ModemFactory, origin_server: OriginServer, recvmode: int) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    response = await modem.request("HEAD", origin_server.url("/bytes/4096"))
    assert response.status_code == 200
    assert response.headers["content-length"] == "4096"
    assert response.content == b""
    assert origin_server.requests[-1].method == "HEAD"
    # the link is usable right after
    assert (await modem.get(origin_server.url("/bytes/10"))).content == pattern_bytes(0, 10)


@RECV_MODES
async def test_post_json_and_form_use_mode_2(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    response = await modem.request("POST", origin_server.url("/echo"), json={"a": 1, "b": [2]})
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["content_type"] == "application/json"
    assert json.loads(origin_server.requests[-1].body) == {"a": 1, "b": [2]}
    # mode 2 means the module wrote the request: its User-Agent, not ours
    assert origin_server.requests[-1].header("user-agent") != "n58aio"

    form = await modem.post(origin_server.url("/echo"), data={"mac": "NEOWAY", "data": "0123456"})
    assert form.json()["content_type"] == "application/x-www-form-urlencoded"
    assert origin_server.requests[-1].body == b"mac=NEOWAY&data=0123456"

    text = await modem.post(
        origin_server.url("/echo"), content="plain", headers={"Content-Type": "text/plain"}
    )
    assert text.json()["content_type"] == "text/plain"


@RECV_MODES
async def test_custom_method_and_headers_use_mode_99(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        response = await modem.request(
            method,
            origin_server.url("/echo?x=1"),
            headers={"X-Gateway": "g-7", "Accept": "application/json"},
            content=b"payload" if method in ("PUT", "PATCH") else None,
        )
        seen = response.json()
        assert seen["method"] == method
        assert seen["target"] == "/echo?x=1"
        names = {name.lower(): value for name, value in seen["headers"]}
        assert names["x-gateway"] == "g-7"
        assert names["user-agent"] == "n58aio"
    get = await modem.request("GET", origin_server.url("/echo"), headers={"X-Only": "1"})
    assert {n.lower() for n, _ in get.json()["headers"]} >= {"x-only", "host"}


@RECV_MODES
async def test_error_statuses(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    for code in (404, 500):
        response = await modem.get(origin_server.url(f"/status/{code}"))
        assert response.status_code == code
        assert response.text.startswith(str(code))
        with pytest.raises(n58aio.HTTPStatusError) as caught:
            response.raise_for_status()
        assert caught.value.status_code == code
    ok = await modem.get(origin_server.url("/status/200"))
    assert ok.raise_for_status() is ok


@RECV_MODES
async def test_ranged_get(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    response = await modem.request(
        "GET", origin_server.url("/bytes/100000"), offset=70000, size=4321
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 70000-74320/100000"
    assert response.content == pattern_bytes(70000, 4321)
    assert origin_server.requests[-1].header("range") == "bytes=70000-74320"


@RECV_MODES
async def test_early_server_close_is_an_error_then_the_modem_works(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    received = bytearray()
    with pytest.raises(n58aio.LinkClosedError):
        async with modem.stream("GET", origin_server.url("/bytes/50000?cut=20000")) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
    assert bytes(received) == pattern_bytes(0, len(received))
    assert len(received) <= 20000
    after = await modem.get(origin_server.url("/bytes/3000"))
    assert after.content == pattern_bytes(0, 3000)


async def test_keepalive_reuses_the_link(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    _, modem = await make_modem(keepalive=True)
    for size in (1000, 2000, 3000):
        response = await modem.get(origin_server.url(f"/bytes/{size}?chunked={size % 2}"))
        assert response.content == pattern_bytes(0, size)
    ids = {request.connection_id for request in origin_server.requests}
    assert len(ids) == 1
    assert origin_server.connections_opened == 1
    # A server that closes anyway is handled: the next request sets up a new link.
    await modem.get(origin_server.url("/bytes/10?close=1"))
    again = await modem.get(origin_server.url("/bytes/20"))
    assert again.content == pattern_bytes(0, 20)
    assert origin_server.connections_opened == 2


async def test_receive_mode_0_never_keeps_a_link(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    # A kept mode-0 link would let its server write unframed bytes later, at any time, that
    # would read as the module's output: every mode-0 response ends with the link closed and a
    # probe, keep-alive or not.
    _, modem = await make_modem(recvmode=0, keepalive=True)
    for size in (1000, 2000):
        response = await modem.get(origin_server.url(f"/bytes/{size}"))
        assert response.content == pattern_bytes(0, size)
    assert origin_server.connections_opened == 2
    assert all(
        (request.header("Connection") or "").lower() == "close"
        for request in origin_server.requests
    )


@RECV_MODES
async def test_cancel_mid_body_then_a_good_request(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    got_some = asyncio.Event()

    async def slow_download() -> None:
        async with modem.stream(
            "GET", origin_server.url("/bytes/400000?drip=0.02&chunk=4096")
        ) as r:
            async for _ in r.aiter_bytes():
                got_some.set()

    task = asyncio.create_task(slow_download())
    await asyncio.wait_for(got_some.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    response = await modem.get(origin_server.url("/bytes/7777"))
    assert response.content == pattern_bytes(0, 7777)
    assert (await modem.command("AT")).final == "OK"


@RECV_MODES
async def test_leaving_the_stream_early_closes_the_link(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode, keepalive=True)
    async with modem.stream("GET", origin_server.url("/bytes/300000")) as response:
        async for _ in response.aiter_bytes():
            break
    response = await modem.get(origin_server.url("/bytes/500"))
    assert response.content == pattern_bytes(0, 500)
    assert origin_server.connections_opened == 2


async def test_large_body_streams_with_bounded_memory(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    """100 MB through the modem path; traced memory does not grow with the body."""
    import hashlib
    import tracemalloc

    from n58aio.emulator.origin import pattern_sha256

    size = 100_000_000
    _, modem = await make_modem(config={"chunk_size": 4096})
    pattern_bytes(0, 17_000_000)  # warm the origin's bounded pattern cache outside the trace
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        async with modem.stream("GET", origin_server.url(f"/bytes/{size}")) as response:
            async for chunk in response.aiter_bytes():
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.num_bytes_downloaded == size
    assert digest.hexdigest() == pattern_sha256(size)
    assert peak < 8_000_000, f"peak traced memory {peak} bytes"


@pytest.mark.parametrize(
    ("config", "echoes_data"),
    [
        ({"echo": False}, True),
        ({"echo": True, "echo_body": False}, False),
        ({"prompt": b"\r\n> "}, True),
    ],
    ids=["echo-off", "no-body-echo", "prompt-space"],
)
async def test_post_under_each_echo_and_prompt_reading(
    make_modem: ModemFactory,
    origin_server: OriginServer,
    config: dict[str, object],
    echoes_data: bool,
) -> None:
    """Both readings of the manual work: body echoed or not (``echoes_data=False``), `>` with
    or without a space; a module that starts with echo off gets it turned on."""
    _, modem = await make_modem(config=config, echoes_data=echoes_data)
    body = b"\r\nOK\r\nAT+HTTPCLOSE\r\n" + bytes(range(256))
    response = await modem.post(
        origin_server.url("/echo"), content=body, headers={"Content-Type": "text/plain"}
    )
    assert response.json()["body_len"] == len(body)
    assert origin_server.requests[-1].body == body
    assert (await modem.command("AT")).final == "OK"


async def test_a_module_that_does_not_echo_data_fails_safely_until_told(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    """The client expects the data echo by default: without it, the bytes after the prompt are
    never taken for the module's reply (they could be a damaged echo of the body), the request
    fails with a message that names the option, and the modem stays usable."""
    _, modem = await make_modem(config={"echo_body": False})
    body = b"\r\nOK\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE"
    with pytest.raises(n58aio.ProtocolError, match="echoes_data=False"):
        await modem.post(origin_server.url("/echo"), content=body)
    assert (await modem.command("ATI")).lines[1] == "N58"


async def test_url_length_limits_are_exact(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    host = f"127.0.0.1:{origin_server.port}"
    fits = "/bytes/3?" + "a" * (2048 - len("127.0.0.1/bytes/3?"))
    response = await modem.get(f"http://{host}{fits}")
    assert response.content == pattern_bytes(0, 3)
    with pytest.raises(n58aio.InvalidValue, match="2048"):
        await modem.get(f"http://{host}{fits}a")
