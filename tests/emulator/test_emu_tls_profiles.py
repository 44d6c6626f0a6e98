"""Firmware profiles of AT+HTTPSCFG: chapter 9 (TLS <= 1.2, ciphersuite) against v2.0 (TLS 1.3,
sni), with TLS-1.3-only, SNI-dependent and cipher-recording origins, and TLSConfig's lines."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import (
    ERROR,
    OK,
    SERVER_NAMES,
    EmuFactory,
    Origin,
    Port,
    Reply,
    TLSMaterial,
)

from n58aio import TLSConfig
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.cli import add_arguments, config_from_args
from n58aio.emulator.tlscontext import names_host, openssl_ciphers

CLOSED = b"\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n"
HOST = b"support.cdmatech.com"
TLS12_SUITES = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384")  # ECDSA keys
DEFAULT_SUITE = TLS12_SUITES[1]  # what the origin picks from the emulator's default offer


class RecordingOrigin(Origin):
    """An HTTPS origin recording each accepted connection's protocol, cipher and client
    certificate; with ``named`` it serves that context's certificate only to a client whose
    SNI is one of the test server names (its own certificate otherwise)."""

    def __init__(self, ssl_context: ssl.SSLContext, named: ssl.SSLContext | None = None) -> None:
        super().__init__(ssl_context)
        self.named = named
        self.versions: list[str | None] = []
        self.ciphers: list[str] = []
        self.client_certs: list[dict[str, Any]] = []

    def _sni(self, sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        super()._sni(sock, name, ctx)
        if self.named is not None and name in SERVER_NAMES:
            sock.context = self.named

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = writer.get_extra_info("ssl_object")
        self.versions.append(tls.version())
        self.ciphers.append(tls.cipher()[0])
        self.client_certs.append(tls.getpeercert())
        await super()._serve(reader, writer)


OriginMaker = Callable[..., Awaitable[RecordingOrigin]]


@pytest.fixture
async def make_tls_origin() -> AsyncIterator[OriginMaker]:
    started: list[RecordingOrigin] = []

    async def factory(
        ssl_context: ssl.SSLContext, named: ssl.SSLContext | None = None
    ) -> RecordingOrigin:
        origin = RecordingOrigin(ssl_context, named)
        await origin.start()
        origin.route("/", Reply(200, body=b"hello"))
        started.append(origin)
        return origin

    yield factory
    for origin in started:
        await origin.close()


def tls13_only(tls: TLSMaterial) -> ssl.SSLContext:
    ctx = tls.server_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def sni_dependent(tls: TLSMaterial) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(default context with a certificate for another name, context for the server names)."""
    default = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("default.invalid").configure_cert(default)
    return default, tls.server_context()


def asks_client_cert(tls: TLSMaterial) -> ssl.SSLContext:
    ctx = tls.server_context()
    tls.ca.configure_trust(ctx)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


async def configure(port: Port, *lines: bytes | str) -> None:
    for line in lines:
        await port.cmd(line.encode() if isinstance(line, str) else line, OK)


async def verify_with_ca(port: Port, version: int = 3) -> None:
    await configure(
        port,
        b'AT+HTTPSCFG="sslversion",%d' % version,
        b'AT+HTTPSCFG="authmode",1',
        b'AT+HTTPSCFG="cacert","ca.pem"',
    )


async def setup(port: Port, origin: Origin, reply: bytes = OK, host: bytes = HOST) -> None:
    await port.cmd(b"AT+HTTPSPARA=url," + host + b"/", OK)
    await port.cmd(b"AT+HTTPSPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSSETUP", reply)


async def get(port: Port, origin: Origin, host: bytes = HOST) -> None:
    """Set up, GET / and check the response is the origin's, byte for byte."""
    served = origin.finished
    await setup(port, origin, host=host)
    await port.cmd(b"AT+HTTPSACTION=0", OK)
    await port.expect(b"\r\n+HTTPSRECV:\r\n" + await origin.response(served) + CLOSED)


@pytest.fixture
async def v2_port(make_emu: EmuFactory) -> tuple[Emulator, Port]:
    return await make_emu(pdp_up=True, firmware="v2")


# -- the command dialects --------------------------------------------------------------------


async def test_ch9_dialect(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,0,,,,\r\nOK\r\n")
    for refused in (b'"sslversion",4', b'"sni",0', b'"sni",1', b'"clientcert",', b'"authmode",""'):
        await port.cmd(b"AT+HTTPSCFG=" + refused, ERROR)
    await configure(
        port,
        b'AT+HTTPSCFG="ciphersuite","0x009C"',
        b'AT+HTTPSCFG="cacert","ca.pem"',
        b'AT+HTTPSCFG="clientcert","cc.pem"',
        b"AT+HTTPSCFG=clientkey,ck.pem",
    )
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,0,0x009C,ca.pem,cc.pem,ck.pem\r\nOK\r\n")
    await configure(
        port, b'AT+HTTPSCFG="ciphersuite",""', b'AT+HTTPSCFG="clientkey",\xe2\x80\x9c\xe2\x80\x9d'
    )
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,0,,ca.pem,cc.pem,\r\nOK\r\n")


async def test_v2_dialect(v2_port: tuple[Emulator, Port]) -> None:
    _, port = v2_port
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG:3,0,,,,0\r\nOK\r\n")
    for refused in (
        b'"sslversion",5',
        b'"sni",2',
        b'"sni",""',
        b'"ciphersuite","0x009C"',
        b'"ciphersuite",""',
        b'"cacert",',
    ):
        await port.cmd(b"AT+HTTPSCFG=" + refused, ERROR)
    await configure(
        port,
        b'AT+HTTPSCFG="sslversion",4',
        b'AT+HTTPSCFG="authmode",2',
        b"AT+HTTPSCFG=\xe2\x80\x9ccacert\xe2\x80\x9d,ca.pem",  # the v2.0 example, unquoted name
        b'AT+HTTPSCFG="clientcert","cc.pem"',
        b'AT+HTTPSCFG="clientkey","ck.pem"',
        b'AT+HTTPSCFG="sni",1',
    )
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG:4,2,ca.pem,cc.pem,ck.pem,1\r\nOK\r\n")
    await port.cmd(b"AT+HTTPSCFG=?", b"\r\n+HTTPSCFG: <type>,<type_name>\r\nOK\r\n")
    await configure(port, b'AT+HTTPSCFG="clientcert",""', b'AT+HTTPSCFG="sni",0')
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG:4,2,ca.pem,,ck.pem,0\r\nOK\r\n")


def test_firmware_option() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args([])).firmware == "ch9"
    assert config_from_args(parser.parse_args(["--firmware", "v2"])).firmware == "v2"
    with pytest.raises(SystemExit):
        parser.parse_args(["--firmware", "v3"])
    with pytest.raises(ValueError, match="firmware"):
        EmulatorConfig(firmware="v3")  # type: ignore[arg-type]


# -- protocol versions -----------------------------------------------------------------------


@pytest.mark.parametrize("sslversion", [1, 2, 3])
async def test_tls13_only_origin_fails_on_ch9(
    emu_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial, sslversion: int
) -> None:
    _, port = emu_port
    origin = await make_tls_origin(tls13_only(tls))
    await verify_with_ca(port, sslversion)
    await setup(port, origin, ERROR)
    await configure(port, b'AT+HTTPSCFG="authmode",0')
    await port.cmd(b"AT+HTTPSSETUP", ERROR)  # the protocol, not the certificate
    assert origin.versions == [] and origin.requests == []


async def test_ch9_stops_at_tls12(
    emu_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = emu_port
    origin = await make_tls_origin(tls.server_context())  # offers TLS 1.3
    await verify_with_ca(port)
    await get(port, origin)
    assert origin.versions == ["TLSv1.2"]


async def test_tls13_only_origin_on_v2(
    v2_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = v2_port
    origin = await make_tls_origin(tls13_only(tls))
    await verify_with_ca(port, 3)
    await configure(port, b'AT+HTTPSCFG="sni",1')
    await setup(port, origin, ERROR)  # sslversion 3 is TLS 1.2 at most, as on chapter 9
    await configure(port, b'AT+HTTPSCFG="sslversion",4')
    await get(port, origin)
    assert origin.versions == ["TLSv1.3"]
    tls12 = tls.server_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    older = await make_tls_origin(tls12)
    await get(port, older)  # sslversion 4 keeps TLS 1.2
    assert older.versions == ["TLSv1.2"]


# -- SNI ----------------------------------------------------------------------------------------


async def test_sni_dependent_origin_on_ch9(
    emu_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = emu_port
    origin = await make_tls_origin(*sni_dependent(tls))
    await verify_with_ca(port)
    await get(port, origin)
    assert origin.sni == [HOST.decode()]


async def test_sni_dependent_origin_on_v2(
    v2_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = v2_port
    origin = await make_tls_origin(*sni_dependent(tls))
    await verify_with_ca(port)
    await setup(port, origin, ERROR)  # sni 0 by default: the default certificate names another host
    assert origin.sni == [None] and origin.requests == []
    await configure(port, b'AT+HTTPSCFG="sni",1')
    await get(port, origin)
    assert origin.sni == [None, HOST.decode()]
    await configure(port, b'AT+HTTPSCFG="sni",0', b'AT+HTTPSCFG="authmode",0')
    await get(port, origin)  # without verification the other certificate is accepted
    assert origin.sni[-1] is None


async def test_httpsget_follows_sni_on_v2(
    v2_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    """HTTPSGET's own connection follows the same SNI rule as HTTPSSETUP."""
    emu, port = v2_port
    origin = await make_tls_origin(*sni_dependent(tls))
    origin.route("/page.bin", Reply(200, body=b"by name"))
    await verify_with_ca(port)
    await port.cmd(b"AT+HTTPSPARA=url," + HOST + b"/page.bin", OK)
    await port.cmd(b"AT+HTTPSPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSGET=0", OK)
    await port.expect(b"\r\n+HTTPSGETRPT: 11\r\n")
    await configure(port, b'AT+HTTPSCFG="sni",1')
    await port.cmd(b"AT+HTTPSGET=0", OK)
    await port.expect(b"\r\n+HTTPSGETRPT: 10\r\n")
    assert (emu.fs_root / "page.bin").read_bytes() == b"by name"
    assert origin.sni == [None, HOST.decode()]


async def test_v2_without_sni_still_verifies(
    v2_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    """No SNI: the certificate is still checked for the CA and the url host (names and IPs)."""
    _, port = v2_port
    origin = await make_tls_origin(tls.server_context())
    await verify_with_ca(port)
    await get(port, origin)
    await get(port, origin, host=b"127.0.0.1")
    assert origin.sni == [None, None]
    await setup(port, origin, ERROR, host=b"www.neoway.com.cn")  # not named by the certificate
    await configure(port, b'AT+HTTPSCFG="cacert","bad-ca.pem"')
    await setup(port, origin, ERROR)


def test_names_host() -> None:
    cert = {"subjectAltName": (("DNS", "*.Example.test"), ("DNS", "a.b"), ("IP Address", "::1"))}
    assert names_host(cert, "www.example.TEST")
    assert names_host(cert, "a.b.")
    assert names_host(cert, "0:0::1")
    for other in ("example.test", "x.www.example.test", "b", "127.0.0.1", "::2", ""):
        assert not names_host(cert, other)
    assert not names_host({"subjectAltName": (("DNS", "*.test"),)}, "a.test")
    assert not names_host(None, "a.b")


# -- cipher suites (chapter 9) ------------------------------------------------------------------


async def test_ciphersuite_chooses_the_cipher(
    emu_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = emu_port
    origin = await make_tls_origin(tls.server_context())
    await verify_with_ca(port)
    for value, expected in (
        (TLS12_SUITES[0], TLS12_SUITES[0]),
        (TLS12_SUITES[1], TLS12_SUITES[1]),
        ("0xC02B", TLS12_SUITES[0]),  # IANA code of ECDHE-ECDSA-AES128-GCM-SHA256
        ("0xFFFF:0xC02C", None),  # one unknown code: refused
        ("NO-SUCH-CIPHER", None),
        ("ECDHE-RSA-AES128-GCM-SHA256", None),  # cannot go with the server's ECDSA key
    ):
        await configure(port, f'AT+HTTPSCFG="ciphersuite","{value}"')
        if expected is None:
            await setup(port, origin, ERROR)
        else:
            await get(port, origin)
            assert origin.ciphers[-1] == expected
    await configure(port, b'AT+HTTPSCFG="ciphersuite","0xC02B"')
    await get(port, origin)
    assert origin.ciphers[-1] == TLS12_SUITES[0]
    await configure(port, *TLSConfig(ca_cert="ca.pem").reset_commands()[:1])  # cleared
    await get(port, origin)
    assert origin.ciphers[-1] == DEFAULT_SUITE
    assert openssl_ciphers("0x009C:0xc02f") == "AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"


# -- TLSConfig lines on both profiles ------------------------------------------------------------


async def send_config(port: Port, config: TLSConfig, refused_resets: set[str]) -> None:
    """Send commands() (each OK) and reset_commands() (ERROR exactly for ``refused_resets``)."""
    for line in config.commands():
        await port.cmd(line.encode(), OK)
    for line in config.reset_commands():
        kind = line.split('"')[1]
        await port.cmd(line.encode(), ERROR if kind in refused_resets else OK)


MUTUAL = TLSConfig(ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem")


async def test_tlsconfig_lines_on_ch9(
    emu_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = emu_port
    origin = await make_tls_origin(asks_client_cert(tls))
    mutual = TLSConfig(
        ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem", cipher_suite=TLS12_SUITES[0]
    )
    await send_config(port, mutual, {"sni"})
    await port.cmd(
        b"AT+HTTPSCFG?",
        b"\r\n+HTTPSCFG: 3,2,%s,ca.pem,cc.pem,ck.pem\r\nOK\r\n" % TLS12_SUITES[0].encode(),
    )
    await get(port, origin)
    assert origin.client_certs[-1] and origin.ciphers[-1] == TLS12_SUITES[0]
    await send_config(port, TLSConfig(ca_cert="ca.pem"), {"sni"})
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 3,1,,ca.pem,,\r\nOK\r\n")
    await get(port, origin)
    assert not origin.client_certs[-1] and origin.ciphers[-1] == DEFAULT_SUITE
    await send_config(port, TLSConfig.insecure("TLS1.0"), {"sni"})
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG: 1,0,,,,\r\nOK\r\n")
    for v2_only in (TLSConfig(version="TLS1.3", ca_cert="ca.pem"), TLSConfig.insecure(sni=True)):
        refused = [line for line in v2_only.commands() if "4" in line or "sni" in line]
        await port.cmd(refused[0].encode(), ERROR)


async def test_tlsconfig_lines_on_v2(
    v2_port: tuple[Emulator, Port], make_tls_origin: OriginMaker, tls: TLSMaterial
) -> None:
    _, port = v2_port
    origin = await make_tls_origin(asks_client_cert(tls))
    await send_config(
        port,
        TLSConfig(
            version="TLS1.3", ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem", sni=True
        ),
        {"ciphersuite"},
    )
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG:4,2,ca.pem,cc.pem,ck.pem,1\r\nOK\r\n")
    await get(port, origin)
    assert origin.client_certs[-1] and origin.versions[-1] == "TLSv1.3"
    await send_config(port, TLSConfig(ca_cert="ca.pem"), {"ciphersuite"})
    await port.cmd(b"AT+HTTPSCFG?", b"\r\n+HTTPSCFG:3,1,ca.pem,,,0\r\nOK\r\n")
    await get(port, origin)
    assert not origin.client_certs[-1] and origin.versions[-1] == "TLSv1.2"
    assert origin.sni == [HOST.decode(), None]
    line = TLSConfig(ca_cert="ca.pem", cipher_suite=TLS12_SUITES[0]).commands()[2]
    assert "ciphersuite" in line
    await port.cmd(line.encode(), ERROR)


@pytest.mark.parametrize("firmware", ["ch9", "v2"])
async def test_stale_client_certificate_not_presented(
    make_emu: EmuFactory, make_tls_origin: OriginMaker, tls: TLSMaterial, firmware: str
) -> None:
    """commands() alone (no reset lines): authmode 1 never presents the earlier certificate."""
    _, port = await make_emu(pdp_up=True, firmware=firmware)
    origin = await make_tls_origin(asks_client_cert(tls))
    for config in (MUTUAL, TLSConfig(ca_cert="ca.pem")):
        for line in config.commands():
            await port.cmd(line.encode(), OK)
        await get(port, origin)
    assert [bool(cert) for cert in origin.client_certs] == [True, False]
