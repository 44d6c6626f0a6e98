"""Replays of the manual's HTTPS examples (9.10-9.15) and the HTTPSCFG authentication modes."""

from __future__ import annotations

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import (
    ERROR,
    OK,
    Origin,
    OriginFactory,
    Port,
    Reply,
    TLSMaterial,
    pattern,
)

from n58aio.emulator import Emulator

CLOSED = b"\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n"
LQ, RQ = "\u201c".encode(), "\u201d".encode()


@pytest.fixture
async def secure_origin(make_origin: OriginFactory, tls: TLSMaterial) -> Origin:
    return await make_origin(tls.server_context())


async def https_setup(port: Port, origin: Origin, url: bytes, reply: bytes = OK) -> None:
    await port.cmd(b"AT+HTTPSPARA=url," + url, OK)
    await port.cmd(b"AT+HTTPSPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSSETUP", reply)


async def test_manual_9_10_httpscfg(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,0,,,,\r\nOK\r\n")
    await port.cmd(b"AT+ HTTPSCFG =" + RQ + b"sslversion" + RQ + b",0", OK)
    await port.cmd(b"AT+ HTTPSCFG =" + RQ + b"authmode" + RQ + b",0", OK)
    await port.cmd(b'AT+HTTPSCFG="authmode",1', OK)
    await port.cmd(b"AT+HTTPSCFG=" + LQ + b"cacert" + RQ + b"," + LQ + b"ca.pem" + RQ, OK)
    await port.cmd(b'AT+HTTPSCFG="clientcert","cc.pem"', OK)
    await port.cmd(b"AT+HTTPSCFG=clientkey,ck.pem", OK)
    answer = b"\r\n+HTTPSCFG: 0,1,,ca.pem,cc.pem,ck.pem\r\nOK\r\n"
    await port.cmd(b"AT+ HTTPSCFG?", answer)
    await port.cmd(b"AT+HTTPSCFGA?", answer)
    test_answer = b"\r\n+HTTPSCFG: <type>,<type_name>\r\nOK\r\n"
    await port.cmd(b"AT+ HTTPSCFG =?", test_answer)
    await port.cmd(b"AT+HTTPSCFGA=?", test_answer)
    await port.cmd(b'AT+HTTPSCFG="ciphersuite",0x0035', OK)
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 0,1,0x0035,ca.pem,cc.pem,ck.pem\r\nOK\r\n")
    for bad in (
        b'"sslversion",4',
        b'"authmode",3',
        b'"authmode",',
        b'"cacert"',
        b'"foo",1',
        b'"sslversion",0,1',
    ):
        await port.cmd(b"AT+HTTPSCFG=" + bad, ERROR)
    await port.cmd(b"AT+HTTPSCFG", ERROR)


async def test_manual_9_13_get_authmode0(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    headers = [("Server", "QUALCOMM"), ("Content-Type", "text/html; charset=ISO-8859-1")]
    secure_origin.route("/login/", Reply(200, headers, pattern(7630)))
    await port.cmd(b"AT+HTTPSPARA=url,support.cdmatech.com/login/", OK)
    await port.cmd(b"AT+HTTPSPARA=port,443", OK)
    await port.cmd(b"AT+HTTPSPARA=port,%d" % secure_origin.port, OK)
    await port.cmd(b"AT+HTTPSSETUP", OK)
    await port.cmd(b"AT+HTTPSACTION=0", OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await secure_origin.response(0) + CLOSED)
    assert secure_origin.sni == ["support.cdmatech.com"]
    request = secure_origin.requests[0]
    assert request.headers["host"] == f"support.cdmatech.com:{secure_origin.port}"
    await port.cmd(b"AT+HTTPSACTION=0", b"\r\n+HTTPSACTION: SOCKET ID OPEN FAILED\r\n")


async def test_manual_9_13_head(emu_port: tuple[Emulator, Port], secure_origin: Origin) -> None:
    _, port = emu_port
    secure_origin.route("/login/", Reply(200, [("Server", "QUALCOMM"), ("Content-Length", "0")]))
    await https_setup(port, secure_origin, b"support.cdmatech.com/login/")
    await port.cmd(b"AT+HTTPSACTION=1", OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await secure_origin.response(0) + CLOSED)
    assert secure_origin.requests[0].method == "HEAD"


async def test_manual_9_13_custom_packet(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    secure_origin.route("/icbc/perbank/index.jsp", Reply(200, body=b"<html>icbc</html>"))
    packet = (
        b"POST /icbc/perbank/index.jsp HTTP/1.1\r\nConnection: close\r\n"
        b"Host: mybank.icbc.com.cn\r\nContent-Length: 10\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n0123456789"
    )
    await https_setup(port, secure_origin, b"mybank.icbc.com.cn/icbc/perbank/index.jsp")
    await port.cmd(b"AT+HTTPSACTION=99,%d" % len(packet), b"\r\n>")
    port.send(packet)
    await port.expect(packet + OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await secure_origin.response(0) + CLOSED)
    assert bytes(secure_origin.raw[1]) == packet


async def test_https_recvmode1_and_close(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    secure_origin.route("/", Reply(200, body=pattern(4000), close=False))
    await port.cmd(b"AT+HTTPSPARA=recvmode,1", OK)
    await port.cmd(b"AT+HTTPSPARA=keepalive,1", OK)
    await https_setup(port, secure_origin, b"https://www.alipay.com")
    await port.cmd(b"AT+HTTPSACTION=0", OK)
    payload = b""
    sent = await secure_origin.response(0)
    while len(payload) < len(sent):
        await port.expect(b"\r\n+HTTPSRECV: ")
        length = int((await port.read_until(b",")).rstrip(b","))
        payload += await port.read_exactly(length)
        await port.expect(b"\r\n")
    assert payload == sent
    await port.cmd(b"AT+HTTPSCLOSE", OK + b"\r\n+HTTPSCLOSE: HTTPS Link Closed\r\n")
    await port.quiet(0.1)
    await port.cmd(b"AT+HTTPSCLOSE", OK)


async def test_authmode1_verifies_server(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    secure_origin.route("/", Reply(200, body=b"verified"))
    await port.cmd(b'AT+HTTPSCFG="authmode",1', OK)
    await https_setup(port, secure_origin, b"support.cdmatech.com/", ERROR)  # no cacert set
    await port.cmd(b'AT+HTTPSCFG="cacert","missing.pem"', OK)
    await port.cmd(b"AT+HTTPSSETUP", ERROR)
    await port.cmd(b'AT+HTTPSCFG="cacert","bad-ca.pem"', OK)
    await port.cmd(b"AT+HTTPSSETUP", ERROR)  # signed by another CA
    await port.cmd(b'AT+HTTPSCFG="cacert","ca.pem"', OK)
    await port.cmd(b"AT+HTTPSSETUP", OK)
    await port.cmd(b"AT+HTTPSACTION=0", OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await secure_origin.response(0) + CLOSED)
    # Host name checked: the certificate does not name www.neoway.com.cn.
    await https_setup(port, secure_origin, b"www.neoway.com.cn/", ERROR)
    await port.cmd(b'AT+HTTPSCFG="authmode",0', OK)
    await port.cmd(b"AT+HTTPSSETUP", OK)


async def test_sslversion0_unsupported(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    await port.cmd(b'AT+HTTPSCFG="sslversion",0', OK)
    await https_setup(port, secure_origin, b"support.cdmatech.com/", ERROR)
    await port.cmd(b'AT+HTTPSCFG="sslversion",1', OK)
    await port.cmd(b"AT+HTTPSSETUP", OK)


async def test_authmode2_client_certificate(
    emu_port: tuple[Emulator, Port], make_origin: OriginFactory, tls: TLSMaterial
) -> None:
    _, port = emu_port
    mtls = await make_origin(tls.server_context(require_client_cert=True))
    mtls.route("/secure", Reply(200, body=b"hello client"))
    for line in (
        b'AT+HTTPSCFG="authmode",2',
        b'AT+HTTPSCFG="cacert","ca.pem"',
        b'AT+HTTPSCFG="clientcert","cc.pem"',
        b'AT+HTTPSCFG="clientkey","ck.pem"',
    ):
        await port.cmd(line, OK)
    await https_setup(port, mtls, b"mybank.icbc.com.cn/secure")
    await port.cmd(b"AT+HTTPSACTION=0", OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await mtls.response(0) + CLOSED)
    assert mtls.requests[0].target == "/secure"


async def test_no_client_certificate_rejected(
    emu_port: tuple[Emulator, Port], make_origin: OriginFactory, tls: TLSMaterial
) -> None:
    """Without a client certificate the server refuses: no request reaches it."""
    _, port = emu_port
    mtls = await make_origin(tls.server_context(require_client_cert=True))
    await port.cmd(b'AT+HTTPSCFG="authmode",1', OK)
    await port.cmd(b'AT+HTTPSCFG="cacert","ca.pem"', OK)
    await port.cmd(b'AT+HTTPSCFG="clientcert","cc.pem"', OK)
    await port.cmd(b"AT+HTTPSPARA=url,mybank.icbc.com.cn/secure", OK)
    await port.cmd(b"AT+HTTPSPARA=port,%d" % mtls.port, OK)
    port.send(b"AT+HTTPSSETUP\r")
    answer = await port.read_until(b"\r\n", timeout=5)
    answer += await port.read_until(b"\r\n")
    if answer.endswith(b"\r\nERROR\r\n"):
        return  # TLS 1.2: the handshake itself fails
    assert answer == b"AT+HTTPSSETUP\r\r\nOK\r\n"
    # TLS 1.3: the server's alert arrives after the handshake and closes the link.
    port.send(b"AT+HTTPSACTION=0\r")
    seen = await port.read_until(CLOSED)
    assert b"+HTTPSRECV" not in seen
    assert mtls.requests == []


async def test_manual_9_11_httpspara(
    emu_port: tuple[Emulator, Port], secure_origin: Origin
) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPSPARA=url,www.alipay.com/index.html", OK)
    await port.cmd(b"AT+HTTPSPARA=url,support.cdmatech.com/index.html", OK)
    await port.cmd(b"AT+HTTPSPARA=port,443", OK)
    await port.cmd(b"AT+HTTPSPARA=url,", ERROR)
    # 9.12: set up against the local origin.
    await port.cmd(b"AT+HTTPSPARA=port,%d" % secure_origin.port, OK)
    await port.cmd(b"AT+HTTPSSETUP", OK)
    await port.cmd(b"AT+HTTPSCLOSE", OK + b"\r\n+HTTPSCLOSE: HTTPS Link Closed\r\n")
    await port.cmd(b"AT+HTTPSSETUP", ERROR)  # parameters cleared by HTTPSCLOSE
