"""Replays of the manual's HTTP examples (9.1-9.5) and the wire details around them."""

from __future__ import annotations

import asyncio

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, EmuFactory, Origin, Port, Reply, Request, pattern

from n58aio.emulator import Emulator

NEOWAY_HEADERS = [
    ("Cache-Control", "private"),
    ("Content-Type", "text/html; charset=utf-8"),
    ("Server", "Microsoft-IIS/7.5"),
    ("Set-Cookie", "ASP.NET_SessionId=rh3fjg554ufzb145aevgzz45; path=/; HttpOnly"),
    ("X-AspNet-Version", "2.0.50727"),
    ("X-Powered-By", "ASP.NET"),
    ("X-UA-Compatible", "IE=EmulateIE7"),
    ("Date", "Wed, 02 Mar 2016 06:52:35 GMT"),
]
CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
FAILED = b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n"


async def setup(
    port: Port, origin: Origin, url: bytes = b"www.neoway.com.cn/en/index.aspx"
) -> None:
    await port.cmd(b"AT+HTTPPARA=url," + url, OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)


def request_head(origin: Origin, method: str, path: str, host: str, *extra: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{origin.port}",
        "Connection: close",
        "User-Agent: N58-emulator",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_manual_9_1_httppara(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPPARA =url,www.neoway.com.cn/en/index.aspx", OK)
    await port.cmd(b"AT+HTTPPARA=url,121.15.200.97/Service1.asmx/GetNote", OK)
    await port.cmd(b"AT+HTTPPARA=url,", ERROR)
    await port.cmd(b"AT+HTTPPARA=port,80", OK)
    await port.cmd(b"AT+HTTPPARA=port,8080", OK)


@pytest.mark.parametrize(
    "line",
    [
        b"AT+HTTPPARA=port,0",
        b"AT+HTTPPARA=port,65536",
        b"AT+HTTPPARA=port,http",
        b"AT+HTTPPARA=keepalive,2",
        b"AT+HTTPPARA=recvmode,x",
        b"AT+HTTPPARA=timeout,5",
        b"AT+HTTPPARA=url",
        b"AT+HTTPPARA?",
        b"AT+HTTPPARA=url,a" + b"/" * 2048,
        b"AT+HTTPSPARA=url,a" + b"/" * 512,
        b"AT+HTTPPARA=url,http://",
    ],
)
async def test_httppara_rejects(emu_port: tuple[Emulator, Port], line: bytes) -> None:
    _, port = emu_port
    await port.cmd(line, ERROR)


async def test_httppara_accepts_limits(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPPARA=url,a" + b"/" * 2047, OK)
    await port.cmd(b"AT+HTTPSPARA=url,a" + b"/" * 511, OK)
    await port.cmd(b"AT+HTTPPARA=URL,http://www.neoway.com.cn:81/x", OK)
    await port.cmd(b"at+httppara=KeepAlive,1", OK)
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await port.cmd(b'AT+HTTPPARA="port","65535"', OK)


async def test_manual_9_2_setup(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu()
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn/en/index.aspx", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", ERROR)  # no data link yet
    await port.cmd(b"AT+XIIC=1", OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await origin.wait_for(0)
    assert origin.connections == 1
    await port.cmd(b"AT+HTTPPARA=url,no-such-host.invalid/en/index.aspx", OK)
    await port.cmd(b"AT+HTTPSETUP", ERROR)  # DNS translation fails


async def test_setup_errors(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True)
    await port.cmd(b"AT+HTTPSETUP", ERROR)  # no url
    closed_port = origin.port
    await origin.close()
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn/", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % closed_port, OK)
    await port.cmd(b"AT+HTTPSETUP", ERROR)  # refused
    _, port2 = await make_emu(pdp_up=True, setup_fail_style="fail")
    await port2.cmd(b"AT+HTTPPARA=url,no-such-host.invalid/", OK)
    await port2.cmd(b"AT+HTTPSETUP", b"\r\n+HTTPSETUP: FAIL\r\n")


async def test_manual_9_3_get(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    origin.route("/en/index.aspx", Reply(200, NEOWAY_HEADERS, pattern(13842)))
    await port.cmd(b"AT+HTTPPARA =url,www.neoway.com.cn/en/index.aspx", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    sent = await origin.response(0)
    assert len(sent) > 13842
    await port.expect(b"\r\n+HTTPRECV:\r\n" + sent + CLOSED)
    assert bytes(origin.raw[1]) == request_head(
        origin, "GET", "/en/index.aspx", "www.neoway.com.cn"
    )
    # The server closed the link: a new request needs a new setup.
    await port.cmd(b"AT+HTTPACTION=0", FAILED)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    await port.expect(b"\r\n+HTTPRECV:\r\n" + await origin.response(1) + CLOSED)


async def test_manual_9_3_head(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    headers = [*NEOWAY_HEADERS, ("Content-Length", "13842")]
    origin.route("/en/index.aspx", Reply(200, headers, pattern(13842)))
    await setup(port, origin)
    await port.cmd(b"AT+HTTPACTION=1", OK)
    sent = await origin.response(0)
    assert sent.startswith(b"HTTP/1.1 200 ") and sent.endswith(b"\r\n\r\n")
    await port.expect(b"\r\n+HTTPRECV:\r\n" + sent + CLOSED)
    assert origin.requests[0].method == "HEAD"


async def test_manual_9_3_post(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port

    def get_note(request: Request) -> Reply:
        fields = dict(item.split("=") for item in request.body.decode().split("&"))
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\r\n'
            f'<string xmlns="http://wsliu.cn/">{fields["MAC"]}+{fields["DATA"]}</string>'
        ).encode()
        return Reply(200, [("Content-Type", "text/xml; charset=utf-8")], body)

    origin.route("/Service1.asmx/GetNote", get_note)
    await port.cmd(b"AT+HTTPPARA=url,121.15.200.97/Service1.asmx/GetNote", OK)
    await port.cmd(b"AT+HTTPPARA=port,8080", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=2,23", b"\r\n>")
    port.send(b"MAC=NEOWAY&DATA=0123456")
    await port.expect(b"MAC=NEOWAY&DATA=0123456" + OK)
    sent = await origin.response(0)
    assert b"NEOWAY+0123456" in sent
    await port.expect(b"\r\n+HTTPRECV:\r\n" + sent + CLOSED)
    expected = request_head(
        origin,
        "POST",
        "/Service1.asmx/GetNote",
        "121.15.200.97",
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Length: 23",
    )
    assert bytes(origin.raw[1]) == expected + b"MAC=NEOWAY&DATA=0123456"


@pytest.mark.parametrize(
    ("ctype", "mime"),
    [(b"", "application/x-www-form-urlencoded"), (b",2", "application/json"), (b",4", "text/html")],
)
async def test_post_binary_body(
    emu_port: tuple[Emulator, Port], origin: Origin, ctype: bytes, mime: str
) -> None:
    _, port = emu_port
    origin.route("/up", lambda request: Reply(200, body=b"%d" % len(request.body)))
    body = b"\r\nOK\r\nAT\r\x1a\x00\xff>" + pattern(1000) + b"\r"
    await setup(port, origin, b"www.neoway.com.cn/up")
    await port.cmd(b"AT+HTTPACTION=2,%d%s" % (len(body), ctype), b"\r\n>")
    # Sent in pieces: the module counts bytes, whatever their values.
    for start in range(0, len(body), 333):
        port.send(body[start : start + 333])
        await asyncio.sleep(0.01)
    await port.expect(body + OK)
    await port.expect(b"\r\n+HTTPRECV:\r\n" + await origin.response(0) + CLOSED)
    assert origin.requests[0].body == body
    assert origin.requests[0].headers["content-type"] == mime


async def test_post_without_body_echo(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True, echo_body=False, prompt=b"\r\n> ")
    origin.route("/up", Reply(200, body=b"ok"))
    await setup(port, origin, b"www.neoway.com.cn/up")
    await port.cmd(b"AT+HTTPACTION=2,5,1", b"\r\n> ")
    port.send(b"hello")
    await port.expect(OK)
    await port.expect(b"\r\n+HTTPRECV:\r\n" + await origin.response(0) + CLOSED)
    assert origin.requests[0].headers["content-type"] == "text/plain"


async def test_manual_9_3_custom_packet(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    headers = [*NEOWAY_HEADERS, ("Content-Length", "13842")]
    origin.route("/en/index.aspx", Reply(200, headers))
    packet = b"HEAD /en/index.aspx HTTP/1.1\r\nconnection: close\r\nHOST: www.neoway.com.cn\r\n\r\n"
    assert len(packet) == 76
    await setup(port, origin)
    await port.cmd(b"AT+HTTPACTION=99,76", b"\r\n>")
    port.send(packet)
    await port.expect(packet + OK)
    await port.expect(b"\r\n+HTTPRECV:\r\n" + await origin.response(0) + CLOSED)
    assert bytes(origin.raw[1]) == packet


async def test_manual_9_3_errors(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu()
    await port.cmd(b"AT+HTTPACTION=0", FAILED)  # PPP not enabled
    await port.cmd(b"AT+HTTPACTION=2,adasd", ERROR)
    await port.cmd(b"AT+XIIC=1", OK)
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn/", OK)
    await port.cmd(b"AT+HTTPACTION=0", FAILED)  # never set up
    await port.cmd(b"AT+HTTPACTION=2,5", FAILED)  # no prompt without a link
    for bad in (b"=3", b"=2", b"=2,0", b"=2,2049", b"=2,5,5", b"=99", b"=0,1", b"=0,x,1", b""):
        await port.cmd(b"AT+HTTPACTION" + bad, ERROR)


async def test_recvmode1_reports(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True, chunk_size=300)
    origin.route("/big", Reply(200, chunks=[pattern(1000, i) for i in range(5)], delay=0.01))
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await setup(port, origin, b"www.neoway.com.cn/big")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    payload, lengths, rest = await port.recv_reports()
    assert payload == await origin.response(0)
    assert all(0 < n <= 300 for n in lengths)
    assert len(lengths) >= 17
    assert rest == CLOSED


async def test_recvmode1_without_trailing_crlf(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True, trailing_crlf=False)
    origin.route("/x", Reply(200, body=b"\r\n" * 100))
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await setup(port, origin, b"www.neoway.com.cn/x")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    payload, _, rest = await port.recv_reports(trailing_crlf=False)
    assert payload == await origin.response(0)
    assert rest == CLOSED


MANUAL_803 = (
    b"HTTP/1.1 206 Partial Content\r\nCache-Control: no-cache\r\nConnection: Keep-Alive\r\n"
    b"Content-Length: 10\r\nContent-Range: bytes 0-9/14615\r\nContent-Type: text/html\r\n"
    b'Date: Tue, 10 Jul 2018 00:55:30 GMT\r\nEtag: "5b3c3650-3917"\r\n'
    b"Last-Modified: Wed, 04 Jul 2018 02:52:00 GMT\r\n"
    b'P3p: CP=" OTI DSP COR IVA OUR IND COM "\r\nPragma: no-cache\r\nServer: BWS/1.1\r\n'
    b"Set-Cookie: BAIDUID=F18E6894A34321D8CF9AAF28C14FACC9:FG=1; expires=Thu, 31-Dec-37 "
    b"23:55:55 GMT; max-age=2147483647; path=/; domain=.baidu.com\r\n"
    b"Set-Cookie: BIDUPSID=F18E6894A34321D8CF9AAF28C14FACC9; expires=Thu, 31-Dec-37 23:55:55 "
    b"GMT; max-age=2147483647; path=/; domain=.baidu.com\r\n"
    b"Set-Cookie: PSTM=1531184130; expires=Thu, 31-Dec-37 23:55:55 GMT; max-age=2147483647; "
    b"path=/; domain=.baidu.com\r\nVary: Accept-Encoding\r\nX-Ua-Compatible: IE=Edge,chrome=1"
    b"\r\n\r\n<!DOCTYPE "
)


async def test_manual_9_5_ranged_recvmode1(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    """The manual's ``+HTTPRECV: 803,HTTP/1.1 206 Partial Content`` report, keep-alive link."""
    _, port = emu_port
    assert len(MANUAL_803) == 803
    origin.route("/", Reply(raw=MANUAL_803, close=False))
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn", OK)
    await port.cmd(b"AT+HTTPPARA=keepalive,1", OK)
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=0,0,10", OK)
    await port.expect(b"\r\n+HTTPRECV: 803," + MANUAL_803 + b"\r\n")
    await port.quiet(0.2)  # keep-alive: no +HTTPCLOSED
    assert origin.requests[0].headers["range"] == "bytes=0-9"
    assert origin.requests[0].headers["connection"] == "keep-alive"
    await port.cmd(b"AT+HTTPCLOSE", OK + b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n")
    await port.quiet(0.2)


async def test_ranged_get_header(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    data = pattern(1000)

    def ranged(request: Request) -> Reply:
        first, last = (int(x) for x in request.headers["range"].split("=")[1].split("-"))
        headers = [("Content-Range", f"bytes {first}-{last}/{len(data)}")]
        return Reply(206, headers, data[first : last + 1])

    origin.route("/file.bin", ranged)
    await setup(port, origin, b"www.neoway.com.cn/file.bin")
    await port.cmd(b"AT+HTTPACTION=0,100,50", OK)
    sent = await origin.response(0)
    assert sent.endswith(data[100:150])
    await port.expect(b"\r\n+HTTPRECV:\r\n" + sent + CLOSED)
    assert bytes(origin.raw[1]) == request_head(
        origin, "GET", "/file.bin", "www.neoway.com.cn", "Range: bytes=100-149"
    )


async def test_keepalive_reuses_link(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    origin.route("/a", Reply(200, body=b"first", close=False))
    origin.route("/b", Reply(200, body=b"second!", close=False))
    await port.cmd(b"AT+HTTPPARA=keepalive,1", OK)
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await setup(port, origin, b"http://www.neoway.com.cn/a")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    first = await origin.response(0)
    await port.expect(b"\r\n+HTTPRECV: %d," % len(first) + first + b"\r\n")
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn/b", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    second = await origin.response(1)
    await port.expect(b"\r\n+HTTPRECV: %d," % len(second) + second + b"\r\n")
    assert origin.connections == 1
    assert [r.target for r in origin.requests] == ["/a", "/b"]
    # Another host:port needs a new setup.
    await port.cmd(b"AT+HTTPPARA=port,1", OK)
    await port.cmd(b"AT+HTTPACTION=0", FAILED)
    await port.cmd(b"AT+HTTPCLOSE", OK + b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n")


async def test_recvmode0_header_once_per_response(
    emu_port: tuple[Emulator, Port], origin: Origin
) -> None:
    _, port = emu_port
    origin.route("/a", Reply(200, body=pattern(3000), close=False, chunks=[pattern(3000)]))
    await port.cmd(b"AT+HTTPPARA=keepalive,1", OK)
    await setup(port, origin, b"www.neoway.com.cn/a")
    for index in range(2):
        await port.cmd(b"AT+HTTPACTION=0", OK)
        await port.expect(b"\r\n+HTTPRECV:\r\n" + await origin.response(index))
    await port.quiet(0.1)


async def test_manual_9_4_httpclose(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    origin.route("/slow", Reply(200, chunks=[b"x" * 100] * 50, delay=0.02))
    await port.cmd(b"AT+HTTPCLOSE", OK)  # not connected: only OK
    await setup(port, origin, b"www.neoway.com.cn/slow")
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    head = await port.read_until(b",")
    assert head.startswith(b"\r\n+HTTPRECV: ")
    port.send(b"AT+HTTPCLOSE\r")
    tail = await port.read_until(b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n")
    assert b"AT+HTTPCLOSE\r\r\nOK\r\n\r\n+HTTPCLOSE: HTTP Link Closed\r\n" in tail
    await port.quiet(0.3)  # nothing relayed after the report
    # The parameters are cleared: no url any more.
    await port.cmd(b"AT+HTTPSETUP", ERROR)


async def test_relay_never_inside_replies(make_emu: EmuFactory, origin: Origin) -> None:
    """Commands sent while data streams in get contiguous replies between whole reports."""
    _, port = await make_emu(pdp_up=True, chunk_size=64)
    origin.route("/stream", Reply(200, chunks=[pattern(200, i) for i in range(40)], delay=0.005))
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await setup(port, origin, b"www.neoway.com.cn/stream")
    await port.cmd(b"AT+HTTPACTION=0", OK)
    replies = 0
    payload = b""
    for _ in range(15):
        port.send(b"AT+CMEE?\r")
        await asyncio.sleep(0.01)
    while True:
        first = await port.read_exactly(2)
        if first == b"AT":
            await port.expect(b"+CMEE?\r\r\n+CMEE: 1\r\nOK\r\n")
            replies += 1
            continue
        assert first == b"\r\n"
        tag = await port.read_until(b":")
        if tag == b"+HTTPCLOSED:":
            await port.expect(b" HTTP Link Closed\r\n")
            break
        assert tag == b"+HTTPRECV:"
        await port.expect(b" ")
        length = int((await port.read_until(b",")).rstrip(b","))
        payload += await port.read_exactly(length)
        await port.expect(b"\r\n")
    assert replies == 15
    assert payload == await origin.response(0)
