"""Redirects, errors that say what failed, typed options and the new Response members, through
the emulator and real origins."""

from __future__ import annotations

import asyncio
import base64
import datetime
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256

BASIC = "Basic " + base64.b64encode(b"user:pass").decode()


def _redirect(server: OriginServer, to: str, code: int = 302) -> str:
    return server.url(f"/redirect?code={code}&to={quote(to, safe='')}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def _leftovers(directory: Path) -> list[Path]:
    return list(directory.glob("*.part*"))


# ---------------------------------------------------------------------- redirects


async def test_redirects_are_returned_unless_followed(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    url = _redirect(origin_server, "/bytes/10")
    plain = await modem.get(url)
    assert plain.status_code == 302
    assert plain.headers["location"] == "/bytes/10"
    assert plain.history == []

    followed = await modem.get(url, follow_redirects=True)
    assert followed.status_code == 200
    assert followed.content == pattern_bytes(0, 10)
    assert [r.status_code for r in followed.history] == [302]
    assert followed.url.path == "/bytes/10"
    assert followed.url.port == origin_server.port

    chain = _redirect(origin_server, _redirect(origin_server, "/bytes/3", 301), 307)
    with pytest.raises(n58aio.TooManyRedirects, match="max_redirects=1"):
        await modem.get(chain, follow_redirects=True, max_redirects=1)
    got = await modem.get(chain, follow_redirects=True, max_redirects=2)
    assert got.content == pattern_bytes(0, 3)
    assert [r.status_code for r in got.history] == [307, 301]


async def test_redirect_methods_follow_httpx(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    for code, method, body in (
        (302, "GET", 0),
        (303, "GET", 0),
        (307, "POST", 5),
        (308, "POST", 5),
    ):
        response = await modem.post(
            _redirect(origin_server, "/echo", code), content=b"hello", follow_redirects=True
        )
        echoed = response.json()
        assert (echoed["method"], echoed["body_len"]) == (method, body), code
    assert origin_server.requests[-1].body == b"hello"


async def test_credentials_stay_with_their_origin(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with OriginServer() as other:
        creds = origin_server.url("/").replace("http://", "http://user:pass@")
        # same origin, relative and absolute: the URL's credentials and headers go along
        for to in ("/echo", origin_server.url("/echo")):
            url = creds.rstrip("/") + f"/redirect?to={quote(to, safe='')}"
            seen = dict((await modem.get(url, follow_redirects=True)).json()["headers"])
            assert seen.get("Authorization") == BASIC, to
        # another origin: neither the URL's credentials nor an Authorization header nor a cookie
        url = creds.rstrip("/") + f"/redirect?to={quote(other.url('/echo'), safe='')}"
        answer = await modem.get(
            url, follow_redirects=True, headers={"Cookie": "s=1", "X-Trace": "t"}
        )
        seen = {k.lower(): v for k, v in answer.json()["headers"]}
        assert "authorization" not in seen
        assert "cookie" not in seen
        assert seen["x-trace"] == "t"
        assert other.requests[-1].header("authorization") is None
        assert answer.url.port == other.port


async def test_redirect_to_another_scheme_and_host(
    modem: n58aio.Modem, origin_server: OriginServer, tls_origin: OriginServer
) -> None:
    to = f"https://localhost:{tls_origin.port}/bytes/2000"
    got = await modem.get(
        _redirect(origin_server, to),
        follow_redirects=True,
        tls=n58aio.TLSConfig(ca_cert="ca.pem"),
    )
    assert got.status_code == 200
    assert got.content == pattern_bytes(0, 2000)
    assert (got.url.scheme, got.url.host) == ("https", "localhost")
    assert tls_origin.requests[-1].path == "/bytes/2000"


async def test_download_follows_redirects_before_planning_ranges(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "file.bin"
    url = _redirect(origin_server, "/bytes/70000?sha256=1")
    result = await modem.download(url, target, sha256=pattern_sha256(70000), range_size=32768)
    assert target.read_bytes() == pattern_bytes(0, 70000)
    assert result.size == 70000
    ranged = [r for r in origin_server.requests if r.path == "/bytes/70000"]
    assert [r.header("range") for r in ranged] == [
        "bytes=0-32767",
        "bytes=32768-65535",
        "bytes=65536-69999",
    ]
    assert not _leftovers(tmp_path)


# ---------------------------------------------------------------------- errors


async def test_unreachable_port_names_host_and_port(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    port = _free_port()
    with pytest.raises(n58aio.ConnectError) as caught:
        await modem.get(f"http://127.0.0.1:{port}/x")
    error = caught.value
    assert isinstance(error, n58aio.RequestError)
    assert isinstance(error, n58aio.CommandError)
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in str(error)
    assert error.text in str(error)
    assert error.command == "AT+HTTPSETUP"
    # the modem is usable afterwards
    assert (await modem.get(origin_server.url("/bytes/2"))).content == pattern_bytes(0, 2)


async def test_unknown_host_and_setup_fail_report(
    make_modem: Any, origin_server: OriginServer
) -> None:
    _, modem = await make_modem(config={"setup_fail_style": "fail"})
    with pytest.raises(n58aio.ConnectError) as caught:
        await modem.get("http://no-such-host.invalid/x")
    assert "no-such-host.invalid:80" in str(caught.value)
    assert "+HTTPSETUP: FAIL" in str(caught.value)
    assert (await modem.get(origin_server.url("/bytes/4"))).content == pattern_bytes(0, 4)


async def test_wrong_ca_file_is_a_tls_error(modem: n58aio.Modem, tls_origin: OriginServer) -> None:
    url = f"https://localhost:{tls_origin.port}/bytes/10"
    with pytest.raises(n58aio.TLSError) as caught:
        await modem.get(url, tls=n58aio.TLSConfig(ca_cert="cc.pem"))
    message = str(caught.value)
    assert f"localhost:{tls_origin.port}" in message
    assert "'cc.pem'" in message
    assert isinstance(caught.value, n58aio.ConnectError)
    good = await modem.get(url, tls=n58aio.TLSConfig(ca_cert="ca.pem"))
    assert good.content == pattern_bytes(0, 10)


async def test_timeouts_by_phase(modem: n58aio.Modem, origin_server: OriginServer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(n58aio.ReadTimeout) as caught:
        await modem.get(
            origin_server.url("/bytes/10?delay=5"), timeouts=n58aio.Timeouts(10, read=1)
        )
    assert caught.value.phase == "first byte"
    assert loop.time() - started < 4
    # a bare number is every phase
    with pytest.raises(n58aio.ReadTimeout):
        await modem.get(origin_server.url("/bytes/10?delay=5"), timeouts=1)

    # pool: a request waiting for the busy modem
    slow = asyncio.ensure_future(modem.get(origin_server.url("/bytes/10?delay=2")))
    await asyncio.sleep(0.3)
    with pytest.raises(n58aio.PoolTimeout):
        await modem.get(origin_server.url("/bytes/1"), timeouts=n58aio.Timeouts(10, pool=0.5))
    assert (await slow).content == pattern_bytes(0, 10)


def test_timeouts_values() -> None:
    assert n58aio.Timeouts(5) == n58aio.Timeouts(connect=5, write=5, first_byte=5, idle=5, pool=5)
    split = n58aio.Timeouts(10, read=2)
    assert (split.connect, split.write, split.first_byte, split.idle) == (10, 10, 2, 2)
    default = n58aio.Timeouts()
    assert (default.connect, default.first_byte, default.pool) == (30, 30, None)
    assert n58aio.Timeouts(first_byte=3).write == 3  # the earlier meaning of first_byte
    assert n58aio.Timeouts.of(2.5) == n58aio.Timeouts(2.5)
    for bad in (0, -1, float("inf"), True):
        with pytest.raises(n58aio.InvalidValue):
            n58aio.Timeouts(bad)
    with pytest.raises(n58aio.InvalidValue):
        n58aio.Timeouts.of("5")  # type: ignore[arg-type]


async def test_unknown_options_are_refused_by_name(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidOption, match="'timouts'; did you mean 'timeouts'") as caught:
        await modem.get(origin_server.url("/"), timouts=5)  # type: ignore[call-arg]
    assert isinstance(caught.value, TypeError)
    with pytest.raises(n58aio.InvalidOption, match="max_redirects"):
        await modem.get(origin_server.url("/"), max_redirects=-1)
    assert modem.channel.bytes_written == written


async def test_the_budget_error_names_what_used_it(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    with pytest.raises(n58aio.RequestTooLarge) as caught:
        await modem.put(
            origin_server.url("/echo"),
            content=b"x" * 1500,
            headers={"X-Big": "v" * 600, "Authorization": "Bearer secret-token"},
        )
    error = caught.value
    message = str(error)
    assert error.budget == 2048 and error.used > 2048
    assert f"the request is {error.used} bytes" in message
    assert "budget of 2048 bytes" in message
    assert "X-Big 609" in message and "body 1500" in message
    assert "secret-token" not in message


# ---------------------------------------------------------------------- response, verbs


async def test_response_members(modem: n58aio.Modem, origin_server: OriginServer) -> None:
    async with modem.stream("GET", origin_server.url("/bytes/20?chunk=3")) as response:
        assert response.reason_phrase == "OK"
        assert response.http_version == "HTTP/1.1"
        assert (response.url.scheme, response.url.host) == ("http", "127.0.0.1")
        assert response.url.raw_path == "/bytes/20?chunk=3"
        assert response.url.query == "chunk=3"
        with pytest.raises(RuntimeError):
            _ = response.elapsed
        text = "".join([part async for part in response.aiter_text()])
    assert text == pattern_bytes(0, 20).decode("latin-1")
    assert isinstance(response.elapsed, datetime.timedelta)
    assert response.elapsed.total_seconds() > 0

    async with modem.stream("GET", origin_server.url("/status/404")) as response:
        lines = [line async for line in response.aiter_lines()]
    assert lines == ["404 Not Found"]


async def test_aiter_lines_and_text_across_chunks() -> None:
    chunks = [b"one\r", b"\ntw", b"o\n\nthr\xc3", b"\xa9e\rfour"]

    async def body() -> Any:
        for chunk in chunks:
            yield chunk

    async def close() -> None:
        return None

    def make() -> n58aio.Response:
        return n58aio.Response(
            status_code=200,
            reason="OK",
            http_version="HTTP/1.1",
            headers=n58aio.Headers({"Content-Type": "text/plain; charset=utf-8"}),
            url="http://h/x",
            method="GET",
            body=body,
            closer=close,
        )

    assert [line async for line in make().aiter_lines()] == ["one", "two", "", "thrée", "four"]
    assert "".join([t async for t in make().aiter_text()]) == "one\r\ntwo\n\nthrée\rfour"


async def test_every_verb_on_the_modem(modem: n58aio.Modem, origin_server: OriginServer) -> None:
    url = origin_server.url("/echo")
    verbs = {
        "GET": modem.get,
        "HEAD": modem.head,
        "POST": modem.post,
        "PUT": modem.put,
        "PATCH": modem.patch,
        "DELETE": modem.delete,
        "OPTIONS": modem.options,
    }
    for method, call in verbs.items():
        response = await call(url)
        assert response.status_code == 200
        assert origin_server.requests[-1].method == method
