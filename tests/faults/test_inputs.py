"""Safe inputs: nothing a caller passes can become part of another AT command, nothing over the
module's limits is sent, and nothing a server sends can make the client write to the port.

* Any URL, header name or value, TLS file name, module file name or AT command holding a byte
  that would break the command line (CR, LF, Ctrl-Z, ESC, NUL, any other control byte, DEL or
  non-ASCII) anywhere, or exceeding a limit of the module, is refused with
  :class:`~n58aio.InvalidValue` before a single byte reaches the port. (Non-ASCII text in a
  URL's path or query is percent-encoded as httpx does, and a header value may hold octets
  from 0x80 to 0xFF, sent in the custom packet only: only control bytes are refused there.)
* A server answering with arbitrary bytes (bodies full of ``AT`` commands, ``+HTTPRECV:``
  reports, ``+HTTPCLOSED``, Ctrl-Z, the prompt ...) changes nothing of what the client writes:
  exactly the command lines of its own plan. In receive mode 1 the body comes back exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from conftest import ModemFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from matrix import spy_writes

import n58aio
from n58aio import TLSConfig
from n58aio.commands.http import HTTP, HTTPS, MAX_BODY
from n58aio.wire import MAX_COMMAND_LENGTH

EXAMPLES = int(os.environ.get("N58_INPUT_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

BREAKERS = ("\r", "\n", "\x1a", "\x1b", "\x00")
"""CR, LF, Ctrl-Z, ESC and NUL: the bytes that end a command line or a data phase."""
controls = st.one_of(
    st.sampled_from(BREAKERS),
    st.characters(max_codepoint=0x1F),
    st.just("\x7f"),
)
forbidden = st.one_of(controls, st.characters(min_codepoint=0x80, exclude_categories=["Cs"]))
not_octets = st.one_of(controls, st.characters(min_codepoint=0x100, exclude_categories=["Cs"]))
plain = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"#%/:?@[\\]^`{|}'),
    min_size=1,
    max_size=24,
)


@st.composite
def poisoned(
    draw: st.DrawFn, base: st.SearchStrategy[str] = plain, bad: st.SearchStrategy[str] = forbidden
) -> str:
    """A text with one forbidden character at any position (first, last, anywhere)."""
    text = draw(base)
    index = draw(st.integers(0, len(text)))
    return text[:index] + draw(bad) + text[index:]


async def refused(modem: n58aio.Modem, call: Callable[[], Awaitable[Any]]) -> n58aio.InvalidValue:
    """``call`` raises InvalidValue and writes nothing to the port."""
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue) as caught:
        await call()
    assert modem.channel.bytes_written == written, "bytes reached the port"
    return caught.value


# ---------------------------------------------------------------------- forbidden bytes


@st.composite
def poisoned_urls(draw: st.DrawFn) -> str:
    """A URL, scheme to query, with a control character at any position."""
    url = draw(
        st.builds(
            "{}://{}{}/{}?{}".format,
            st.sampled_from(("http", "https")),
            st.sampled_from(("origin.test", "127.0.0.1", "user:pw@host.example")),
            st.sampled_from(("", ":8080")),
            plain,
            plain,
        )
    )
    index = draw(st.integers(0, len(url)))
    return url[:index] + draw(controls) + url[index:]


@PROPERTY
@given(url=poisoned_urls())
@example(url="http://origin.test/a\r\nAT+XIIC=0")
@example(url="\x1ahttp://origin.test/")
@example(url="http://origin.test/\x00")
async def test_urls_with_a_forbidden_byte_are_refused(modem: n58aio.Modem, url: str) -> None:
    await refused(modem, lambda: modem.get(url, tls=TLSConfig.insecure()))


@PROPERTY
@given(name=poisoned(), value=plain)
@example(name="X-A\r\n", value="1")
async def test_header_names_with_a_forbidden_byte_are_refused(
    modem: n58aio.Modem, name: str, value: str
) -> None:
    await refused(modem, lambda: modem.get("http://origin.test/", headers={name: value}))


@PROPERTY
@given(value=poisoned(bad=not_octets))
@example(value="x\r\nAT+HTTPCLOSE")
@example(value="\x1a")
async def test_header_values_with_a_forbidden_byte_are_refused(
    modem: n58aio.Modem, value: str
) -> None:
    for method in ("GET", "POST"):
        await refused(
            modem,
            lambda m=method: modem.request(  # type: ignore[misc]
                m, "http://origin.test/", headers={"X-Value": value}, content=b"b"
            ),
        )


@PROPERTY
@given(name=poisoned(), field=st.sampled_from(("ca_cert", "client_cert", "client_key", "cipher")))
@example(name='ca.pem"\r\nAT+XIIC=0', field="ca_cert")
async def test_tls_file_names_with_a_forbidden_byte_are_refused(
    modem: n58aio.Modem, name: str, field: str
) -> None:
    files = {"ca_cert": "ca.pem", "client_cert": "cc.pem", "client_key": "ck.pem"}
    if field != "cipher":
        files[field] = name
    config = TLSConfig(
        ca_cert=files["ca_cert"],
        client_cert=files["client_cert"],
        client_key=files["client_key"],
        cipher_suite=name if field == "cipher" else None,
    )
    await refused(modem, lambda: modem.get("https://localhost/x", tls=config))


@PROPERTY
@given(name=poisoned())
@example(name="data.bin\r\nAT+XIIC=0")
async def test_module_file_names_with_a_forbidden_byte_are_refused(
    modem: n58aio.Modem, name: str
) -> None:
    await refused(modem, lambda: modem.file_upload("http://origin.test/up", name, 10))
    with pytest.raises(n58aio.InvalidValue):
        HTTP.file_action_post(10, 1, name)
    with pytest.raises(n58aio.InvalidValue):
        HTTPS.file_action_post(10, 1, name)


@PROPERTY
@given(command=poisoned(st.builds("AT+{}".format, plain)))
@example(command="AT\r+HTTPCLOSE")
@example(command="AT+CSQ\x1b")
async def test_commands_with_a_forbidden_byte_are_refused(
    modem: n58aio.Modem, command: str
) -> None:
    await refused(modem, lambda: modem.command(command))
    await refused(modem, lambda: modem.command(command, data=b"x"))


@PROPERTY
@given(value=poisoned())
async def test_builders_refuse_forbidden_bytes(value: str) -> None:
    """The command builders themselves, for code that bypasses the client."""
    for family in (HTTP, HTTPS):
        with pytest.raises(n58aio.InvalidValue):
            family.para("url", "host/" + value)
        with pytest.raises(n58aio.InvalidValue):
            family.para("port", value)
        with pytest.raises(n58aio.InvalidValue):
            family.file_action_post(1, 0, value)
        with pytest.raises(n58aio.InvalidValue):
            family.get(value + "0" * 31)


# ---------------------------------------------------------------------- module limits


@PROPERTY
@given(extra=st.integers(1, 400), https=st.booleans())
async def test_urls_over_the_module_limit_are_refused(
    modem: n58aio.Modem, extra: int, https: bool
) -> None:
    family = HTTPS if https else HTTP
    host = "origin.test"
    path = "/" + "a" * (family.max_url - len(host) - 1 + extra)
    error = await refused(
        modem,
        lambda: modem.get(f"{family.source.lower()}://{host}{path}", tls=TLSConfig.insecure()),
    )
    assert str(family.max_url) in str(error)


@PROPERTY
@given(extra=st.integers(1, 3000), custom=st.booleans())
async def test_bodies_over_the_module_limit_are_refused(
    modem: n58aio.Modem, extra: int, custom: bool
) -> None:
    headers = {"X-Custom": "1"} if custom else {"Content-Type": "text/plain"}
    body = b"x" * (MAX_BODY + extra if not custom else MAX_BODY - 50 + extra)
    await refused(modem, lambda: modem.post("http://origin.test/up", content=body, headers=headers))


@PROPERTY
@given(extra=st.integers(1, 500))
async def test_names_and_commands_over_their_limits_are_refused(
    modem: n58aio.Modem, extra: int
) -> None:
    await refused(modem, lambda: modem.file_upload("http://origin.test/", "f" * (255 + extra), 1))
    long_name = "c" * (255 + extra)
    await refused(modem, lambda: modem.get("https://localhost/", tls=TLSConfig(ca_cert=long_name)))
    await refused(modem, lambda: modem.command("AT+X=" + "1" * (MAX_COMMAND_LENGTH + extra)))


# ---------------------------------------------------------------------- requests refused whole

REFUSED_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("GET", {"offset": 0, "size": 10, "headers": {"Range": "bytes=0-9"}}),
    ("GET", {"offset": 0, "size": 10, "headers": {"X-Big": "v" * MAX_BODY}}),
    ("GET", {"offset": 0, "size": 10, "headers": {"X-A": "1\r\nAT+XIIC=0"}}),
    ("GET", {"offset": -1, "size": 10, "headers": {"X-A": "1"}}),
    ("GET", {"offset": 0, "size": 0, "headers": {"X-A": "1"}}),
    ("GET", {"offset": 0, "headers": {"X-A": "1"}}),
    ("POST", {"offset": 0, "size": 10, "content": b"x"}),
    ("HEAD", {"offset": 0, "size": 10}),
]


@pytest.mark.parametrize("credentials", ["", "alice:pw@"], ids=["plain", "credentials"])
@pytest.mark.parametrize(("method", "options"), REFUSED_REQUESTS)
async def test_ranged_requests_are_refused_whole_before_the_first_byte(
    modem: n58aio.Modem, method: str, options: dict[str, Any], credentials: str
) -> None:
    """A ranged request that cannot be sent is refused before any AT+HTTPPARA is written."""
    url = f"http://{credentials}origin.test/bytes/100"
    await refused(modem, lambda: modem.request(method, url, **options))


# ---------------------------------------------------------------------- what servers send

NASTY = (
    b"\r\nAT+HTTPCLOSE\r\n",
    b"AT+XIIC=0\r",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\x1a",
    b"\x1b",
    b"\x00",
    b"\r\n>",
    b"\r\n> ",
    b"+HTTPRECV: 5,abcde",
    b"\r\n+HTTPRECV: 9,",
    b"\r\n+HTTPRECV:\r\n",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n",
    b"\r\n+PBREADY\r\n",
    b"\r\n+CME ERROR: 3\r\n",
    b"\r\n+CMEE: 1\r\n",
    b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n",
)
bodies = st.lists(st.one_of(st.binary(max_size=300), st.sampled_from(NASTY)), max_size=12).map(
    b"".join
)


@contextlib.asynccontextmanager
async def raw_server(responses: list[bytes]) -> AsyncIterator[int]:
    """A TCP server answering each connection with the next of ``responses`` verbatim, then
    closing it; yields the port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(responses.pop(0) if responses else b"")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def planned_lines(port: int, recvmode: int) -> list[bytes]:
    """The command lines of a GET of ``http://127.0.0.1:<port>/x`` on a new link (with
    ``compress=False``: the module writes the request)."""
    return [
        b"AT+HTTPPARA=url,127.0.0.1/x\r",
        b"AT+HTTPPARA=port,%d\r" % port,
        b"AT+HTTPPARA=keepalive,0\r",
        b"AT+HTTPPARA=recvmode,%d\r" % recvmode,
        b"AT+HTTPSETUP\r",
        b"AT+HTTPACTION=0\r",
    ]


CLOSE = b"AT+HTTPCLOSE\r"
PROBE = re.compile(rb"AT\+N58SYNC=[0-9A-F]{16}\r")


@pytest.fixture
async def modems(make_modem: ModemFactory) -> dict[int, n58aio.Modem]:
    """One modem per receive mode, kept for all the examples of a property."""
    _, mode1 = await make_modem(recvmode=1)
    _, mode0 = await make_modem(recvmode=0)
    return {1: mode1, 0: mode0}


@settings(PROPERTY, max_examples=max(10, EXAMPLES // 2))
@given(body=bodies, recvmode=st.sampled_from((1, 0)))
@example(body=b"\r\nAT+XIIC=0\r\n\x1a+HTTPRECV: 5,abcde\r\n+HTTPCLOSED: x\r\n", recvmode=1)
@example(body=b"x\r\n+HTTPRECV:\r\n\r\nOK\r\n\r\n>", recvmode=0)
@example(body=b"a\r\n+HTTPCLOSED: HTTP Link Closed\r\n\r\nOK\r\n", recvmode=0)
async def test_server_bytes_never_make_the_client_write(
    modems: dict[int, n58aio.Modem], body: bytes, recvmode: int
) -> None:
    modem = modems[recvmode]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    async with raw_server([head + body]) as port:
        writes = spy_writes(modem)
        received = bytearray()
        error: n58aio.N58Error | None = None
        try:
            async with asyncio.timeout(20):
                url = f"http://127.0.0.1:{port}/x"
                async with modem.stream("GET", url, compress=False) as response:
                    async for chunk in response.aiter_bytes():
                        received += chunk
        except n58aio.N58Error as exc:
            error = exc
        # in step: the next command gets its own reply
        assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]
        assert writes[-1] == b"AT+CGMM\r"
        writes = writes[:-1]
        plan = planned_lines(port, recvmode)
        if recvmode == 1:
            # exactly the plan (and the close, unless the module said the server closed)
            assert error is None, f"{error!r}"
            assert bytes(received) == body
            assert writes in (plan, [*plan, CLOSE]), writes
        else:
            # receive mode 0 has no framing: the link is always closed blind and a probe with a
            # fresh token proves the channel in step; a server sending the module's link-closed
            # (or restart) report ends the response early (an error, a correct prefix)
            assert writes[: len(plan)] == plan, writes
            assert writes[len(plan)] == CLOSE, writes
            assert PROBE.fullmatch(writes[len(plan) + 1]), writes
            assert all(w == CLOSE or PROBE.fullmatch(w) for w in writes[len(plan) :]), writes
            if error is None:
                assert bytes(received) == body
            else:
                assert body.startswith(bytes(received)), "wrong bytes before the error"
                reports = (b"\r\n+HTTPCLOSE", b"\r\n+PBREADY")
                assert any(report in body for report in reports), f"{error!r}"
        assert b"".join(writes).count(b"\r") == len(writes), "a write that is not one line"


@settings(PROPERTY, max_examples=max(10, EXAMPLES // 3))
@given(response=bodies)
@example(response=b"\r\nOK\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n")
async def test_a_server_sending_garbage_gets_an_error_and_nothing_written(
    modems: dict[int, n58aio.Modem], response: bytes
) -> None:
    """Not even HTTP: the request fails (or not), the writes are still only the plan."""
    modem = modems[1]
    async with raw_server([response]) as port:
        writes = spy_writes(modem)
        with contextlib.suppress(n58aio.N58Error):
            async with asyncio.timeout(20):
                await modem.get(
                    f"http://127.0.0.1:{port}/x",
                    timeouts=n58aio.Timeouts(first_byte=2, idle=2),
                    compress=False,  # the module's own GET: the plan is planned_lines()
                )
        plan = planned_lines(port, 1)
        assert writes in (plan, [*plan, CLOSE]), writes
        assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]
