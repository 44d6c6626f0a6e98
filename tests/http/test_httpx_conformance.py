"""Request semantics as httpx's (issue #24, items 1-5), through the emulator, against the
project's origin and against nginx: each test asserts the bytes the server received and that
httpx would have sent the same (``httpx.Request`` builds them without sending anything).

Forms write ``True`` / ``False`` / ``None`` as ``true`` / ``false`` / empty; JSON refuses NaN
and the infinities; a header value may be ``bytes`` (sent octet for octet); a caller's ``Host``
is sent (the request becomes a custom packet); a URL with a space or non-ASCII text is
percent-encoded, and the module's length limit applies to the encoded form.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

import n58aio
from n58aio.commands.http import HTTP
from n58aio.emulator.nginx import NginxOrigin, find_nginx
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.origin_coding import json_document
from n58aio.http import accept_encoding
from n58aio.http.redirects import redirect_request
from n58aio.http.url import ModuleURL


@dataclass(frozen=True)
class Received:
    """What a server got, whichever server it is."""

    target: str
    host: str | None
    probe: str | None  # the X-Probe header, octets as latin-1
    body: bytes | None
    accept_encoding: str | None


class Server:
    """The project's origin or nginx, with one way to read what it received."""

    def __init__(self, server: OriginServer | NginxOrigin) -> None:
        self.server = server

    def url(self, path: str) -> str:
        return self.server.url(path)

    async def last(self, path: str) -> Received:
        """The last request for ``path`` (a ``/``-ended path: anything under it)."""

        def wanted(target: str) -> bool:
            return target.startswith(path) if path.endswith("/") else target.split("?")[0] == path

        if isinstance(self.server, OriginServer):
            request = [r for r in self.server.requests if wanted(r.target)][-1]
            return Received(
                request.target,
                request.header("host"),
                request.header("x-probe"),
                request.body,
                request.header("accept-encoding"),
            )
        for _ in range(200):  # nginx logs a request once its answer is out: wait for the line
            entries = [e for e in self.server.access_log() if wanted(e.target)]
            if entries:
                break
            await asyncio.sleep(0.01)
        entry = entries[-1]
        body = entry.body() if entry.method == "POST" else None
        return Received(entry.target, entry.host, entry.probe, body, entry.accept_encoding)


@pytest.fixture(params=["origin", "nginx"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    if request.param == "nginx":
        if find_nginx() is None:
            pytest.skip("nginx is not installed (apt-get install nginx-light)")
        async with NginxOrigin() as nginx:
            yield Server(nginx)
    else:
        async with OriginServer() as origin:
            yield Server(origin)


async def test_form_values_are_written_as_httpx_writes_them(
    modem: n58aio.Modem, server: Server
) -> None:
    data = {"flag": True, "off": False, "opt": None, "n": 1, "many": ["a", "b c"], "t": ("é",)}
    await modem.post(server.url("/echo"), data=data)
    expected = b"flag=true&off=false&opt=&n=1&many=a&many=b+c&t=%C3%A9"
    assert (await server.last("/echo")).body == expected
    assert httpx.Request("POST", server.url("/echo"), data=data).content == expected


async def test_json_is_compact_utf8_as_httpx_writes_it(modem: n58aio.Modem, server: Server) -> None:
    value = {"x": "é", "n": 1.5, "l": [True, None]}
    await modem.post(server.url("/echo"), json=value)
    expected = '{"x":"é","n":1.5,"l":[true,null]}'.encode()
    assert (await server.last("/echo")).body == expected
    assert httpx.Request("POST", server.url("/echo"), json=value).content == expected


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
async def test_json_refuses_nan_and_infinity_before_writing(
    modem: n58aio.Modem, number: float
) -> None:
    with pytest.raises(ValueError):  # httpx's refusal
        httpx.Request("POST", "http://127.0.0.1/", json={"x": number})
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue, match="not JSON compliant") as caught:
        await modem.post("http://127.0.0.1/echo", json={"x": number})
    assert isinstance(caught.value, ValueError)
    assert modem.channel.bytes_written == written


@pytest.mark.parametrize(
    ("value", "octets"),
    [(b"raw \xe9\xff value", b"raw \xe9\xff value"), ("text value", b"text value")],
)
async def test_header_values_go_out_as_given_bytes_or_text(
    modem: n58aio.Modem, server: Server, value: str | bytes, octets: bytes
) -> None:
    await modem.get(server.url("/json/10"), headers={"X-Probe": value})
    assert (await server.last("/json/10")).probe == octets.decode("latin-1")
    given = {"X-Probe": value} if isinstance(value, str) else {b"X-Probe": value}
    sent = httpx.Request("GET", server.url("/json/10"), headers=given)
    assert sent.headers.raw[-1] == (b"X-Probe", octets)


async def test_a_header_value_of_another_type_is_refused_as_httpx_does(
    modem: n58aio.Modem,
) -> None:
    with pytest.raises(TypeError, match="must be str or bytes"):
        await modem.get("http://127.0.0.1/", headers={"X-Probe": 5})  # type: ignore[arg-type]


async def test_a_callers_host_reaches_the_virtual_host(modem: n58aio.Modem, server: Server) -> None:
    response = await modem.get(server.url("/json/10"), headers={"Host": "virtual.test"})
    assert (await server.last("/json/10")).host == "virtual.test"
    if isinstance(server.server, NginxOrigin):
        assert response.content == b"virtual.test\n"  # nginx's second server answered
    sent = httpx.Request("GET", server.url("/json/10"), headers={"Host": "virtual.test"})
    assert sent.headers["host"] == "virtual.test"


async def test_without_a_host_header_the_urls_is_sent(modem: n58aio.Modem, server: Server) -> None:
    await modem.get(server.url("/json/10"))
    port = server.server.port
    assert (await server.last("/json/10")).host == f"127.0.0.1:{port}"


async def test_httpx_through_the_transport_sends_the_callers_host(
    modem: n58aio.Modem, server: Server
) -> None:
    async with httpx.AsyncClient(transport=n58aio.ModemTransport(modem)) as client:
        await client.get(server.url("/json/10"), headers={"Host": "virtual.test"})
        assert (await server.last("/json/10")).host == "virtual.test"
        await client.get(server.url("/json/11"))
        assert (await server.last("/json/11")).host == f"127.0.0.1:{server.server.port}"


def test_a_redirect_to_another_origin_drops_the_callers_host() -> None:
    options: n58aio.RequestOptions = {"headers": {"Host": "virtual.test", "X-A": "1"}}
    _, _, same = redirect_request("GET", "http://127.0.0.1:81/a", 302, "/b", options)
    assert same["headers"] == [("Host", "virtual.test"), ("X-A", "1")]
    _, _, other = redirect_request("GET", "http://127.0.0.1:81/a", 302, "http://h/b", options)
    assert other["headers"] == [("X-A", "1")]


async def test_a_plain_get_asks_for_compression_by_default(
    modem: n58aio.Modem, server: Server
) -> None:
    """As httpx: the offer goes by default (a custom packet), ``compress=False`` opts out."""
    packed = await modem.get(server.url("/json/30000"))
    assert (await server.last("/json/30000")).accept_encoding == accept_encoding()
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == json_document(30_000)
    plain = await modem.get(server.url("/json/30001"), compress=False)
    assert (await server.last("/json/30001")).accept_encoding is None
    assert "content-encoding" not in plain.headers
    assert packed.num_bytes_downloaded * 4 < plain.num_bytes_downloaded


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/echo/a b/é?q=a b&r=é", "/echo/a%20b/%C3%A9?q=a%20b&r=%C3%A9"),
        ('/echo/"x"<y>?q="1"', "/echo/%22x%22%3Cy%3E?q=%221%22"),
        ("/echo/already%20done?x=%C3%A9", "/echo/already%20done?x=%C3%A9"),
    ],
)
async def test_urls_are_percent_encoded_as_httpx_encodes_them(
    modem: n58aio.Modem, server: Server, path: str, encoded: str
) -> None:
    response = await modem.get(server.url(path))
    assert (await server.last("/echo/")).target == encoded
    assert str(response.url).endswith(encoded)
    assert httpx.URL(server.url(path)).raw_path == encoded.encode()


@pytest.mark.parametrize(
    ("path", "encoded", "httpx_sends"),
    [
        ("/echo/a|b^c\\d", "/echo/a%7Cb%5Ec%5Cd", "/echo/a|b^c\\d"),
        ("/echo/100%", "/echo/100%25", "/echo/100%"),
        ("/echo/x?a=|", "/echo/x?a=%7C", "/echo/x?a=|"),
        ("/echo/{x}`?a={b}", "/echo/%7Bx%7D%60?a=%7Bb%7D", "/echo/%7Bx%7D%60?a={b}"),
    ],
)
async def test_what_httpx_leaves_outside_rfc3986_is_encoded_too(
    modem: n58aio.Modem, server: Server, path: str, encoded: str, httpx_sends: str
) -> None:
    """The documented difference: the server decodes the same text."""
    await modem.get(server.url(path))
    assert (await server.last("/echo/")).target == encoded
    assert httpx.URL(server.url(path)).raw_path == httpx_sends.encode()


async def test_the_module_limit_applies_to_the_encoded_url(modem: n58aio.Modem) -> None:
    host = "127.0.0.1"
    room = HTTP.max_url - len(host) - len("/")
    fits = "x" * room
    assert len(host + "/" + fits) == HTTP.max_url
    url = ModuleURL.parse(f"http://{host}/{fits}")
    assert len(url.module_url) == HTTP.max_url
    # one 'é' in place of an 'x' is six bytes once encoded: over the limit
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue, match=f"at most {HTTP.max_url}"):
        await modem.get(f"http://{host}/{'é' + fits[1:]}")
    assert modem.channel.bytes_written == written


async def test_a_non_ascii_host_is_refused_with_its_idna_form(modem: n58aio.Modem) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue, match=r"xn--bcher-kva\.example"):
        await modem.get("http://bücher.example/")
    assert modem.channel.bytes_written == written
