"""Secrets never reach the logs, and TLS verification is real.

The logging test renders every log line of the library *and* of the emulator at DEBUG, as a
deployment would write them, through an authenticated HTTPS session with a client key: Basic
credentials in the URL, an ``Authorization`` header, a 401, and requests that fail (link closed
mid-body, the data's echo damaged, a TLS setup refused). No password, token, Basic blob or
private key may appear, neither in the log nor in the messages of the errors raised.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from conftest import ModemFactory

import n58aio
from n58aio import TLSConfig
from n58aio.emulator.origin import (
    AUTH_BASIC_PASSWORD,
    AUTH_BASIC_USER,
    AUTH_BEARER_TOKEN,
    OriginServer,
    pattern_bytes,
)
from n58aio.emulator.tlsfiles import TLSFiles

MUTUAL = TLSConfig(ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem")


@pytest.fixture
def rendered_logs() -> Iterator[io.StringIO]:
    """structlog at DEBUG, rendered to text (JSON lines) as a deployment would: yields the text."""
    sink = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=repr),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=sink),
        cache_logger_on_first_use=False,
    )
    try:
        yield sink
    finally:
        structlog.reset_defaults()


def secrets(tls_files: TLSFiles) -> list[str]:
    """Every form a secret of the session could take in a log line."""
    basic = f"{AUTH_BASIC_USER}:{AUTH_BASIC_PASSWORD}"
    key_lines = [
        line for line in tls_files.client_key_pem.decode().splitlines() if "-----" not in line
    ]
    return [
        basic,
        base64.b64encode(basic.encode()).decode(),
        AUTH_BEARER_TOKEN,
        "PRIVATE KEY",
        *(line[:32] for line in key_lines[:3]),
    ]


async def test_secrets_never_reach_the_logs(
    make_modem: ModemFactory, tls_files: TLSFiles, rendered_logs: io.StringIO
) -> None:
    errors: list[str] = []
    async with OriginServer(tls=tls_files, require_client_cert=True) as origin:
        emu, modem = await make_modem(tls=MUTUAL)
        base = f"https://localhost:{origin.port}"
        creds = f"https://{AUTH_BASIC_USER}:{AUTH_BASIC_PASSWORD}@localhost:{origin.port}"
        bearer = {"Authorization": f"Bearer {AUTH_BEARER_TOKEN}"}

        assert (await modem.get(f"{creds}/auth")).status_code == 200
        assert (await modem.get(f"{base}/auth", headers=bearer)).status_code == 200
        denied = await modem.get(f"{base}/auth")
        assert denied.status_code == 401
        with pytest.raises(n58aio.HTTPStatusError) as status:
            denied.raise_for_status()
        errors.append(repr(status.value))

        # the link closed in the middle of an authenticated body
        emu.faults.after_body_bytes(3000, emu.faults.close_link)
        with pytest.raises(n58aio.LinkClosedError) as closed:
            await modem.get(f"{creds}/bytes/20000", headers={"X-Trace": "1"})
        errors.append(repr(closed.value))

        # the echo of the request (with its Authorization header) damaged: it is then read as
        # modem output, and must not be logged as such
        emu.faults.on_data(lambda: emu.faults.garble_next(3), after=1, ordered=True)
        with pytest.raises(n58aio.N58Error) as garbled:
            await modem.request("DELETE", f"{creds}/echo", headers=bearer)
        errors.append(repr(garbled.value))

        # a TLS setup refused (an unknown CA), with credentials in the URL
        with pytest.raises(n58aio.CommandError) as refused:
            await modem.get(f"{creds}/auth", tls=TLSConfig(ca_cert="cc.pem"))
        errors.append(repr(refused.value))

        # and the session still works, with both kinds of credentials
        response = await modem.get(f"{creds}/bytes/100", headers=bearer)
        assert response.content == pattern_bytes(0, 100)

    text = rendered_logs.getvalue()
    assert "command.sent" in text, "expected the library's DEBUG log"
    assert '"emulator"' in text, "expected the emulator's log"
    assert "HTTPSCFG" in text, "expected the TLS settings in the log"
    for secret in secrets(tls_files):
        assert secret not in text, f"{secret!r} in the log"
        for error in errors:
            assert secret not in error, f"{secret!r} in {error}"
    # the redacted forms are there instead
    assert "localhost" in text


async def test_the_emulator_verifies_the_server_hostname(
    make_modem: ModemFactory, module_fs: Path
) -> None:
    """A certificate from the trusted CA but for another host name fails the setup; the same
    server under its own name passes: the module's TLS checks the name, not just the chain."""
    other = TLSFiles.generate(hostnames=("other.example",))
    other.write_to(module_fs, ca="other-ca.pem", cert="other-cc.pem", key="other-ck.pem")
    verify = TLSConfig(ca_cert="other-ca.pem")
    async with OriginServer(tls=other) as origin:
        resolve = {"localhost": "127.0.0.1", "other.example": "127.0.0.1"}
        _, modem = await make_modem(config={"resolve": resolve}, tls=verify)
        with pytest.raises(n58aio.CommandError) as caught:
            await modem.get(f"https://localhost:{origin.port}/bytes/10")
        assert "HTTPSSETUP" in caught.value.command
        assert origin.requests == []
        response = await modem.get(f"https://other.example:{origin.port}/bytes/10")
        assert response.content == pattern_bytes(0, 10)
        assert len(origin.requests) == 1
        # turning verification off is explicit, and then the name does not matter
        insecure = await modem.get(
            f"https://localhost:{origin.port}/bytes/10", tls=TLSConfig.insecure()
        )
        assert insecure.content == pattern_bytes(0, 10)


async def test_verification_is_the_default_and_off_is_a_warning(
    make_modem: ModemFactory, tls_origin: OriginServer
) -> None:
    _, modem = await make_modem()
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.TLSConfigError, match="insecure"):
        await modem.get(f"https://localhost:{tls_origin.port}/", tls=TLSConfig())
    assert modem.channel.bytes_written == written
    assert TLSConfig(ca_cert="ca.pem").auth_mode == 1
    assert 'AT+HTTPSCFG="authmode",1' in TLSConfig(ca_cert="ca.pem").commands()
    with structlog.testing.capture_logs() as logs:
        await modem.get(f"https://localhost:{tls_origin.port}/bytes/5", tls=TLSConfig.insecure())
    warnings = [entry for entry in logs if entry["event"] == "tls.verification_disabled"]
    assert [entry["log_level"] for entry in warnings] == ["warning"]
