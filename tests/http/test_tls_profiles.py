"""TLSConfig on both firmware profiles, through Modem, the emulator and real TLS origins."""

from __future__ import annotations

import ssl

import pytest
from conftest import ModemFactory

import n58aio
from n58aio import TLSConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

VERIFY = TLSConfig(ca_cert="ca.pem")
MUTUAL = TLSConfig(ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem")


def tls13_only(tls_files: TLSFiles) -> ssl.SSLContext:
    ctx = tls_files.server_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def sni_dependent(tls_files: TLSFiles) -> ssl.SSLContext:
    """Serves the localhost certificate only to a client naming localhost in SNI; otherwise a
    certificate for another name from another CA."""
    named = tls_files.server_context()
    default = TLSFiles.generate(("default.invalid",)).server_context()

    def choose(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        if name == "localhost":
            sock.context = named

    default.sni_callback = choose
    return default


@pytest.mark.parametrize("version", ["TLS1.0", "TLS1.1", "TLS1.2"])
async def test_tls13_only_origin_fails_on_ch9(
    make_modem: ModemFactory, tls_files: TLSFiles, version: n58aio.http.TLSVersion
) -> None:
    async with OriginServer(tls_context=tls13_only(tls_files)) as origin:
        _, modem = await make_modem()
        url = f"https://localhost:{origin.port}/bytes/10"
        with pytest.raises(n58aio.CommandError) as caught:
            await modem.get(url, tls=TLSConfig(version=version, ca_cert="ca.pem"))
        assert "HTTPSSETUP" in caught.value.command
        with pytest.raises(n58aio.TLSConfigError, match="refused"):
            await modem.get(url, tls=TLSConfig(version="TLS1.3", ca_cert="ca.pem"))
        assert origin.requests == []


async def test_tls13_only_origin_works_on_v2(make_modem: ModemFactory, tls_files: TLSFiles) -> None:
    async with OriginServer(tls_context=tls13_only(tls_files)) as origin:
        _, modem = await make_modem(config={"firmware": "v2"})
        url = f"https://localhost:{origin.port}/bytes/300"
        with pytest.raises(n58aio.CommandError):
            await modem.get(url, tls=VERIFY)  # sslversion 3: TLS 1.2 at most
        tls13 = TLSConfig(version="TLS1.3", ca_cert="ca.pem")
        assert (await modem.get(url, tls=tls13)).content == pattern_bytes(0, 300)
        assert len(origin.requests) == 1


async def test_sni_dependent_origin_on_ch9(make_modem: ModemFactory, tls_files: TLSFiles) -> None:
    async with OriginServer(tls_context=sni_dependent(tls_files)) as origin:
        _, modem = await make_modem()
        response = await modem.get(f"https://localhost:{origin.port}/bytes/10", tls=VERIFY)
        assert response.content == pattern_bytes(0, 10)
        with pytest.raises(n58aio.TLSConfigError, match="refused"):
            await modem.get(
                f"https://localhost:{origin.port}/", tls=TLSConfig(ca_cert="ca.pem", sni=True)
            )


async def test_sni_dependent_origin_on_v2(make_modem: ModemFactory, tls_files: TLSFiles) -> None:
    async with OriginServer(tls_context=sni_dependent(tls_files)) as origin:
        _, modem = await make_modem(config={"firmware": "v2"})
        url = f"https://localhost:{origin.port}/bytes/10"
        for off in (TLSConfig(ca_cert="ca.pem", sni=False), VERIFY):  # VERIFY: the default, 0
            with pytest.raises(n58aio.CommandError) as caught:
                await modem.get(url, tls=off)
            assert "HTTPSSETUP" in caught.value.command
        assert origin.requests == []
        with_sni = TLSConfig(ca_cert="ca.pem", sni=True)
        assert (await modem.get(url, tls=with_sni)).content == pattern_bytes(0, 10)
        with pytest.raises(n58aio.TLSConfigError, match="refused"):
            await modem.get(url, tls=TLSConfig(ca_cert="ca.pem", cipher_suite="AES128-SHA256"))


@pytest.mark.parametrize("firmware", ["ch9", "v2"])
async def test_stale_client_certificate_not_in_force(
    make_modem: ModemFactory, tls_files: TLSFiles, firmware: str
) -> None:
    ctx = tls_files.server_context(require_client_cert=True)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # asks for a certificate, records whether one came
    async with OriginServer(tls_context=ctx) as origin:
        _, modem = await make_modem(config={"firmware": firmware})
        url = f"https://localhost:{origin.port}/bytes/10"
        for config in (MUTUAL, VERIFY):
            assert (await modem.get(url, tls=config)).content == pattern_bytes(0, 10)
        subjects = [request.client_cert_subject for request in origin.requests]
        assert subjects[0] is not None and "n58aio-client" in subjects[0]
        assert subjects[1] is None


def test_lines_for_both_profiles() -> None:
    assert MUTUAL.commands() == [
        'AT+HTTPSCFG="sslversion",3',
        'AT+HTTPSCFG="authmode",2',
        'AT+HTTPSCFG="cacert","ca.pem"',
        'AT+HTTPSCFG="clientcert","cc.pem"',
        'AT+HTTPSCFG="clientkey","ck.pem"',
    ]
    assert MUTUAL.reset_commands() == ['AT+HTTPSCFG="ciphersuite",""', 'AT+HTTPSCFG="sni",0']
    ch9 = TLSConfig(version="TLS1.1", ca_cert="ca.pem", cipher_suite="0x009C")
    assert ch9.commands() == [
        'AT+HTTPSCFG="sslversion",2',
        'AT+HTTPSCFG="authmode",1',
        'AT+HTTPSCFG="ciphersuite","0x009C"',
        'AT+HTTPSCFG="cacert","ca.pem"',
    ]
    assert ch9.reset_commands() == [
        'AT+HTTPSCFG="sni",0',
        'AT+HTTPSCFG="clientcert",""',
        'AT+HTTPSCFG="clientkey",""',
    ]
    v2 = TLSConfig.insecure("TLS1.3", sni=True)
    assert v2.commands() == [
        'AT+HTTPSCFG="sslversion",4',
        'AT+HTTPSCFG="authmode",0',
        'AT+HTTPSCFG="sni",1',
    ]
    assert v2.reset_commands() == [
        'AT+HTTPSCFG="ciphersuite",""',
        'AT+HTTPSCFG="cacert",""',
        'AT+HTTPSCFG="clientcert",""',
        'AT+HTTPSCFG="clientkey",""',
    ]
    assert TLSConfig(ca_cert="ca.pem", sni=False).commands()[-1] == 'AT+HTTPSCFG="sni",0'


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TLSConfig(version="TLS1.3", ca_cert="ca.pem", cipher_suite="AES128-SHA"), "chapter-9"),
        (TLSConfig(ca_cert="ca.pem", cipher_suite="AES128-SHA", sni=True), "chapter-9"),
        (TLSConfig(ca_cert="ca.pem", sni=1), "sni must be"),  # type: ignore[arg-type]
        (TLSConfig(version="TLS1.4", ca_cert="ca.pem"), "unknown TLS version"),  # type: ignore[arg-type]
        (TLSConfig(ca_cert="ca.pem", cipher_suite=""), "unusable ciphersuite"),
    ],
)
async def test_impossible_combinations_refused_before_writing(
    modem: n58aio.Modem, tls_files: TLSFiles, config: TLSConfig, message: str
) -> None:
    for method in (config.commands, config.reset_commands):
        with pytest.raises(n58aio.TLSConfigError, match=message):
            method()
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.TLSConfigError, match=message):
        await modem.get("https://localhost/", tls=config)
    assert modem.channel.bytes_written == written
