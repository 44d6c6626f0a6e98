"""HTTPS through the emulator's real TLS, and inputs refused before anything reaches the port."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import structlog
from conftest import ModemFactory

import n58aio
from n58aio import TLSConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

VERIFY = TLSConfig(ca_cert="ca.pem")


@pytest.mark.parametrize("recvmode", [1, 0])
async def test_https_get_and_post_with_server_verification(
    make_modem: ModemFactory, tls_origin: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode, tls=VERIFY)
    url = f"https://localhost:{tls_origin.port}"
    response = await modem.get(f"{url}/bytes/25000?chunked=1")
    assert response.content == pattern_bytes(0, 25000)
    posted = await modem.post(f"{url}/echo", json={"secure": True})
    assert posted.json()["body_len"] == len(b'{"secure":true}')
    custom = await modem.request("DELETE", f"{url}/echo", headers={"X-A": "1"})
    assert custom.json()["method"] == "DELETE"


async def test_https_client_certificate(make_modem: ModemFactory, tls_files: TLSFiles) -> None:
    async with OriginServer(tls=tls_files, require_client_cert=True) as origin:
        _, modem = await make_modem()
        mutual = TLSConfig(ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem")
        response = await modem.get(f"https://localhost:{origin.port}/bytes/100", tls=mutual)
        assert response.content == pattern_bytes(0, 100)
        assert origin.requests[-1].client_cert_subject is not None


async def test_https_with_the_wrong_ca_fails_setup_and_recovers(
    make_modem: ModemFactory, tls_origin: OriginServer, module_fs: Path
) -> None:
    TLSFiles.generate().write_to(module_fs, ca="other-ca.pem", cert="x.pem", key="y.pem")
    _, modem = await make_modem()
    url = f"https://localhost:{tls_origin.port}/bytes/10"
    with pytest.raises(n58aio.CommandError) as caught:
        await modem.get(url, tls=TLSConfig(ca_cert="other-ca.pem"))
    assert "HTTPSSETUP" in caught.value.command
    assert tls_origin.requests == []
    assert (await modem.get(url, tls=VERIFY)).content == pattern_bytes(0, 10)


async def test_https_needs_an_explicit_tls_choice(
    modem: n58aio.Modem, tls_origin: OriginServer
) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.TLSConfigError):
        await modem.get(f"https://localhost:{tls_origin.port}/")
    with pytest.raises(n58aio.TLSConfigError):
        await modem.get(f"https://localhost:{tls_origin.port}/", tls=TLSConfig())
    assert modem.channel.bytes_written == written


async def test_insecure_tls_is_explicit_and_logged(
    modem: n58aio.Modem, tls_origin: OriginServer
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await modem.get(
            f"https://127.0.0.1:{tls_origin.port}/bytes/5", tls=TLSConfig.insecure()
        )
    assert response.content == pattern_bytes(0, 5)
    warnings = [e for e in logs if e["event"] == "tls.verification_disabled"]
    assert warnings and warnings[0]["log_level"] == "warning"


async def test_secrets_never_reach_the_log(
    make_modem: ModemFactory, tls_origin: OriginServer
) -> None:
    _, modem = await make_modem(tls=VERIFY)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as logs:
            url = f"https://user:pass@localhost:{tls_origin.port}/auth"
            response = await modem.get(url, headers={"X-Api-Key": "k"})
            bearer = await modem.get(
                f"https://localhost:{tls_origin.port}/auth",
                headers={"Authorization": "Bearer secret-token"},
            )
    finally:
        structlog.reset_defaults()
    assert response.status_code == 200
    assert bearer.status_code == 200
    dumped = repr(logs)
    assert logs, "expected log events"
    for secret in ("user:pass", "secret-token", "dXNlcjpwYXNz"):
        assert secret not in dumped
    assert "Bearer" not in repr(bearer.headers) or "redacted" in repr(bearer.headers)


BAD_URLS = [
    "http://origin.test/a\rb",
    "http://origin.test/a\nb",
    "http://origin.test/a\x1ab",
    "http://origin.test/a\x1bb",
    "http://origin.test/a\x00b",
    "http://orig\u00e9n.test/",  # a non-ASCII host (a path or query would be percent-encoded)
    "http://origin.test/" + "a" * 2048,
    "https://origin.test/" + "a" * 501,
    "ftp://origin.test/x",
    "http:///nohost",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
async def test_bad_urls_are_refused_before_the_port(modem: n58aio.Modem, url: str) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue):
        await modem.get(url, tls=VERIFY)
    assert modem.channel.bytes_written == written


@pytest.mark.parametrize(
    "options",
    [
        {"headers": {"X-A": "x\r\nInjected: 1"}},
        {"headers": {"X-A": "x\nAT+HTTPCLOSE"}},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-A": "\x1a"}},
        {"content": b"x" * 2049},
        {"headers": {"X-Big": "v" * 2100}},
        {"json": {"a": 1}, "content": b"x"},
        {"offset": 5},
    ],
    ids=["crlf", "lf", "name", "ctrlz", "body", "packet", "both", "range"],
)
async def test_bad_requests_are_refused_before_the_port(
    modem: n58aio.Modem, origin_server: OriginServer, options: dict[str, Any]
) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue) as caught:
        await modem.request("POST", origin_server.url("/echo"), **options)
    assert modem.channel.bytes_written == written
    if "content" in options and len(options) == 1:
        assert "2048" in str(caught.value)


async def test_commands_with_control_bytes_are_refused(modem: n58aio.Modem) -> None:
    written = modem.channel.bytes_written
    for command in ("AT\r+HTTPCLOSE", "AT\n", "AT+X=\x1a", "ATE0\x1b", "xAT"):
        with pytest.raises(n58aio.InvalidValue):
            await modem.command(command)
    assert modem.channel.bytes_written == written


async def test_nothing_a_server_sends_makes_the_client_write(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    """A response full of AT commands is data: the port only carries our own commands."""
    body = b"AT+HTTPCLOSE\r\nAT+XIIC=0\r\n\x1a" * 50
    await modem.post(origin_server.url("/upload/atcmds"), content=body)
    written = modem.channel.bytes_written
    response = await modem.get(origin_server.url("/files/none"))
    assert response.status_code == 404
    echoed = await modem.post(origin_server.url("/echo"), content=body)
    assert echoed.json()["body_len"] == len(body)
    # only the known command lines of one GET and one POST were written in between
    assert modem.channel.bytes_written - written < 700 + len(body)
