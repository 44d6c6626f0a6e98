"""The password of a URL never shows: not in an error message, a log line or the CLI's output.

Every path that formats a URL is driven with ``http://<user>:<password>@...`` (the password with
characters that need percent-encoding, too): refusals (bad port, no host, over-long, bad
scheme, bad character, malformed host), an HTTP error status through the emulator, a transfer
that fails, a pool retry, a command line carrying credentials, and ``n58aio get --fail`` as a
subprocess. Neither the password (raw or percent-encoded) nor its Basic blob may appear.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import ModemFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from log_capture import debug_json_logs

import n58aio
from n58aio.cli.common import EXIT_HTTP
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer
from n58aio.redact import REDACTED, redact

PROPERTY = settings(
    max_examples=int(os.environ.get("N58_INPUT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

passwords = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=6, max_size=20
).map(lambda text: "Pw" + text)
users = st.text(st.characters(whitelist_categories=["Ll", "Nd"]), min_size=1, max_size=8)


def forms(user: str, password: str) -> list[str]:
    """Every way the password could be shown: raw, percent-encoded, inside the Basic blob."""
    blob = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [password, quote(password, safe=""), blob]


def authority(user: str, password: str) -> str:
    return f"{quote(user, safe='')}:{quote(password, safe='')}@"


def assert_hidden(text: str, user: str, password: str) -> None:
    for form in forms(user, password):
        assert form not in text, f"{form!r} shown in {text!r}"


@pytest.fixture
def rendered_logs() -> Iterator[io.StringIO]:
    """structlog at DEBUG rendered as JSON lines: yields the text (log_capture.py)."""
    with debug_json_logs() as sink:
        yield sink


# ---------------------------------------------------------------------- the rule itself


@given(user=users, password=passwords)
@example(user="alice", password="Pwsecret")
@example(user="a", password="Pwx@y:z/w?q#r")
def test_redact_hides_the_userinfo_of_any_url(user: str, password: str) -> None:
    cred = authority(user, password)
    for url in (
        f"http://{cred}host/x",
        f"https://{cred}[::1]:8443/a?b=c",
        f"HTTP://{cred}h",
    ):
        for text in (url, f"GET {url} failed", repr(url), f"['{url}', 'x']"):
            shown = redact(text)
            assert_hidden(shown, user, password)
            assert REDACTED in shown
    # a command line with the URL as a parameter, bare or quoted
    for line in (f"AT+HTTPPARA=url,{cred}host/x", f'AT+HTTPPARA=url,"{cred}host/a;b"'):
        shown = redact(line)
        assert_hidden(shown, user, password)
        assert shown.startswith("AT+HTTPPARA=url,")
        assert shown.endswith(("host/x", 'host/a;b"'))
    blob = forms(user, password)[2]
    assert_hidden(redact(f"Authorization: Basic {blob}\r\nHost: h"), user, password)


def test_redact_leaves_text_without_credentials_alone() -> None:
    for text in (
        "http://host/a@b",  # an @ in the path is no credential
        "AT+HTTPPARA=url,host/x@y",
        "AT+CSQ",
        "https://[::1]:443/",
        "HTTP 404 Not Found for http://127.0.0.1:80/status/404",
    ):
        assert redact(text) == text


# ---------------------------------------------------------------------- refusals


def refusals(user: str, password: str) -> list[str]:
    """One URL per refusal of ModuleURL.parse, each with credentials."""
    cred = authority(user, password)
    return [
        f"http://{cred}origin.test:99999/x",  # port out of range
        f"http://{cred}origin.test:8o/x",  # port not a number
        f"http://{cred}/x",  # no host
        f"https://{cred}origin.test/" + "a" * 600,  # over the module's URL length
        f"ftp://{cred}origin.test/",  # scheme
        f"http://{cred}or\u00efgin.test/x",  # a host that is not ASCII (a path is encoded)
        f"http://{cred}origin.test/a\x01b",  # a control byte
        f"http://{cred}[::1/x",  # malformed IPv6 host
    ]


@PROPERTY
@given(user=users, password=passwords)
@example(user="alice", password="Pwsecret")
async def test_refusals_never_show_the_password(
    modem: n58aio.Modem, user: str, password: str
) -> None:
    for url in refusals(user, password):
        written = modem.channel.bytes_written
        with pytest.raises(n58aio.InvalidValue) as caught:
            await modem.get(url, tls=n58aio.TLSConfig.insecure())
        assert modem.channel.bytes_written == written
        assert_hidden(f"{caught.value} {caught.value!r}", user, password)
        with pytest.raises(n58aio.InvalidValue) as again:
            await modem.download(url, "/nonexistent/never-written")
        assert_hidden(f"{again.value} {again.value!r}", user, password)


# ---------------------------------------------------------------------- through the emulator

USER, PASSWORD = "alice", "Pw;s3cr,t@x"


async def test_errors_and_logs_of_real_requests_never_show_the_password(
    make_modem: ModemFactory,
    origin_server: OriginServer,
    tmp_path: Path,
    rendered_logs: io.StringIO,
) -> None:
    emu, modem = await make_modem()
    base = f"http://{authority(USER, PASSWORD)}127.0.0.1:{origin_server.port}"
    shown: list[str] = []

    # an HTTP error status: the response's URL and HTTPStatusError
    response = await modem.get(f"{base}/status/404")
    assert response.url.startswith("http://<redacted>@127.0.0.1:")
    with pytest.raises(n58aio.HTTPStatusError) as status:
        response.raise_for_status()
    shown += [str(status.value), repr(status.value), status.value.url, repr(response)]

    # downloads that fail: an error status, and a hash mismatch
    with pytest.raises(n58aio.HTTPStatusError) as missing:
        await modem.download(f"{base}/status/404", tmp_path / "a.bin", retries=0)
    with pytest.raises(n58aio.IntegrityError) as mismatch:
        await modem.download(f"{base}/bytes/1000", tmp_path / "b.bin", sha256="0" * 64)
    shown += [str(missing.value), str(mismatch.value), mismatch.value.url]

    # the link closed in the middle of a credentialed body
    emu.faults.after_body_bytes(3000, emu.faults.close_link)
    with pytest.raises(n58aio.LinkClosedError) as closed:
        await modem.get(f"{base}/bytes/20000")
    shown.append(repr(closed.value))

    # a command line that carries credentials itself: logged redacted, refused redacted
    cred = authority(USER, PASSWORD)
    with pytest.raises(n58aio.CommandError) as refused:
        await modem.command(f"AT+HTTPPARA=nosuch,{cred}127.0.0.1/x")
    shown += [str(refused.value), repr(refused.value)]

    text = rendered_logs.getvalue()
    assert "command.sent" in text and "http.response" in text, "expected the library's log"
    for item in [*shown, text]:
        assert_hidden(item, USER, PASSWORD)
    assert REDACTED in text


async def test_pool_retry_logs_never_show_the_password(
    make_modem: ModemFactory, origin_server: OriginServer, rendered_logs: io.StringIO
) -> None:
    emulators = [Emulator(EmulatorConfig()) for _ in range(2)]
    for emulator in emulators:
        await emulator.start()
        # the first request on each modem loses its link just before the action
        emulator.faults.on_command("AT+HTTPACTION", emulator.faults.close_link)
    try:
        url = f"http://{authority(USER, PASSWORD)}127.0.0.1:{origin_server.port}/bytes/100"
        async with n58aio.ModemPool(
            [e.device for e in emulators], request_retries=3, acquire_timeout=10
        ) as pool:
            response = await pool.request("GET", url)
            assert response.status_code == 200
            assert pool.stats().retries >= 1
    finally:
        for emulator in emulators:
            await emulator.close()
    text = rendered_logs.getvalue()
    assert "pool.request.retry" in text
    assert_hidden(text, USER, PASSWORD)


async def test_cli_get_fail_never_shows_the_password(
    origin_server: OriginServer, module_fs: Path
) -> None:
    async with Emulator(EmulatorConfig(fs_root=module_fs)) as emulator:
        for path, expected in (("/status/404", "HTTP 404"), ("/bytes/1x", "HTTP 400")):
            url = f"http://{authority(USER, PASSWORD)}127.0.0.1:{origin_server.port}{path}"
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "n58aio",
                "get",
                url,
                "--fail",
                "--device",
                emulator.device,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={k: v for k, v in os.environ.items() if k != "N58_DEVICE"},
            )
            async with asyncio.timeout(60):
                out, err = await process.communicate()
            stderr = err.decode()
            assert process.returncode == EXIT_HTTP, stderr
            assert out == b""
            assert expected in stderr and "<redacted>@127.0.0.1" in stderr
            assert_hidden(stderr, USER, PASSWORD)
        # a refused URL: the message names the problem, not the password
        bad = f"http://{authority(USER, PASSWORD)}127.0.0.1:99999/x"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "n58aio",
            "get",
            bad,
            "--device",
            emulator.device,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            _, err = await process.communicate()
        assert "bad port" in err.decode()
        assert_hidden(err.decode(), USER, PASSWORD)
