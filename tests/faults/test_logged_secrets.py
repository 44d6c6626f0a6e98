"""No secret in a DEBUG log or an error text, whatever single byte the line damages.

A whole session runs through the emulator with every kind of secret in play: a SIM PIN
(``AT+CPIN="..."``), an APN user and password (``AT+XGAUTH=...``), a private key read back from
the module (``AT+FSRFEX`` output) and URL credentials (the ``Authorization`` header echoed in
the custom packet of ``AT+HTTPACTION=99``). Hypothesis picks the secrets and one line fault: a
byte of the module's output replaced, dropped or inserted, at any offset of the echo and reply
of one command (those that carry a secret and their neighbours) or of the whole session. The
library's and the emulator's events are rendered as a deployment writes them (JSON lines,
tracebacks included), and every exception raised is rendered too (``str``, ``repr`` and its
causes): none of it may hold a secret, nor any 16-character piece of the key. The secrets are
drawn so that they cannot occur by chance (eight-digit PINs, ten-character passwords, ``Pw``
and ``Up`` prefixes).

Then the rule itself: :func:`~n58aio.redact.loggable_line` shows a damaged echo or key line by
kind and length only, :func:`~n58aio.redact.redact` hides a command with one damaged
character, errors redact their own text, and tracebacks show no frame locals.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from log_capture import debug_json_logs

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.output import ByteDamage
from n58aio.redact import REDACTED, loggable_line, redact

EXAMPLES = int(os.environ.get("N58_SECRET_EXAMPLES", "16"))
STEP_TIMEOUT = 1.5  # a step the fault made hang is abandoned (its command cancelled)
WINDOW = 16  # no piece of the key this long may show


@pytest.fixture
def rendered_logs() -> Iterator[io.StringIO]:
    """structlog at DEBUG rendered as JSON lines: yields the text (log_capture.py)."""
    with debug_json_logs() as sink:
        yield sink


@dataclass(frozen=True)
class Secrets:
    pin: str
    user: str
    password: str
    url_user: str
    url_password: str
    key: bytes

    def pem(self) -> bytes:
        body = base64.encodebytes(self.key).replace(b"\n", b"")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return b"\n".join([b"-----BEGIN PRIVATE KEY-----", *lines, b"-----END PRIVATE KEY-----\n"])

    def forms(self) -> list[str]:
        """Every form a secret could take in a rendered line, and every piece of the key."""
        blob = base64.b64encode(f"{self.url_user}:{self.url_password}".encode()).decode()
        shown = [self.pin, self.password, self.url_password, blob]
        shown.append(quote(self.url_password, safe=""))
        key_text = base64.encodebytes(self.key).decode().replace("\n", "")
        shown += [key_text[i : i + WINDOW] for i in range(0, len(key_text) - WINDOW + 1, 4)]
        return shown


alnum = st.characters(min_codepoint=0x30, max_codepoint=0x7A).filter(str.isalnum)
secrets_strategy = st.builds(
    Secrets,
    pin=st.text(st.sampled_from("0123456789"), min_size=8, max_size=8),
    user=st.text(st.sampled_from("abcdefgh"), min_size=1, max_size=6).map(lambda u: "u" + u),
    password=st.text(alnum, min_size=10, max_size=10).map(lambda p: "Pw" + p),
    url_user=st.text(st.sampled_from("klmnop"), min_size=1, max_size=6),
    url_password=st.text(alnum, min_size=10, max_size=10).map(lambda p: "Up" + p),
    key=st.binary(min_size=300, max_size=900),
)


@dataclass(frozen=True)
class LineFault:
    """One byte of the output after the echo of the command starting with ``command`` begins
    (with ``command`` empty: of the whole session's output, from the port's opening)."""

    command: str
    skip: int
    kind: ByteDamage
    value: int


# the commands whose echo or reply carries a secret, with how far their output reaches
_TARGETS = {
    'AT+CPIN="': 40,
    "AT+CPIN?": 40,
    "AT+XGAUTH=": 60,
    "AT+XIIC=1": 40,
    "AT+FSRFEX": 1300,
    "AT+HTTPACTION=99": 400,
}
_SESSION_OUTPUT = 4000  # about what the whole session's module writes
faults_strategy = st.sampled_from(["", *sorted(_TARGETS)]).flatmap(
    lambda command: st.builds(
        LineFault,
        command=st.just(command),
        skip=st.integers(0, _TARGETS.get(command, _SESSION_OUTPUT)),
        kind=st.sampled_from(["replace", "drop", "insert"]),
        value=st.sampled_from([0x00, 0x0A, 0x0D, 0x22, 0x2C, 0x2B, 0x3A, 0x41, 0xFF]),
    )
)


def shown(exc: BaseException) -> str:
    """Everything an exception shows: its text, repr and those of its causes."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 20:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def session(
    secrets: Secrets, fault: LineFault | None, fs_root: Path, origin: OriginServer
) -> list[str]:
    """Run the session with ``fault`` armed; returns the texts of the exceptions raised."""
    (fs_root / "ck.pem").write_bytes(secrets.pem())
    config = EmulatorConfig(
        fs_root=fs_root,
        sim="pin",
        sim_pin=secrets.pin,
        network_apn="apn.test",
        network_user=secrets.user,
        network_password=secrets.password,
    )
    emulator = Emulator(config)
    await emulator.start()
    errors: list[str] = []
    try:
        async with n58aio.open_modem(emulator.device) as modem:
            modem.channel.resync_grace = 0.2
            if fault is not None and not fault.command:
                emulator.faults.damage_byte(fault.skip, fault.kind, fault.value)
            elif fault is not None:
                emulator.faults.on_command(
                    fault.command,
                    lambda: emulator.faults.damage_byte(fault.skip, fault.kind, fault.value),
                    ordered=True,
                )
            cred = f"{secrets.url_user}:{quote(secrets.url_password, safe='')}@"
            steps = (
                lambda: modem.attach(
                    5.0,
                    pin=secrets.pin,
                    apn="apn.test",
                    user=secrets.user,
                    password=secrets.password,
                ),
                lambda: modem.files.read("ck.pem"),
                lambda: modem.get(f"http://{cred}127.0.0.1:{origin.port}/bytes/10"),
            )
            for step in steps:
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await step()
                except (n58aio.N58Error, TimeoutError) as exc:
                    errors.append(shown(exc))
    except n58aio.N58Error as exc:  # closing a port the fault left in a bad state
        errors.append(shown(exc))
    finally:
        await emulator.close()
    return errors


def assert_hidden(text: str, secrets: Secrets) -> None:
    for form in secrets.forms():
        assert form not in text, f"{form!r} shown in:\n{text}"


async def test_the_session_shows_its_secrets_without_a_fault(
    rendered_logs: io.StringIO, origin_server: OriginServer, tmp_path: Path
) -> None:
    """The check can fail: the secrets are really in play, and the session works."""
    secrets = Secrets("73914265", "ualice", "Pwabcdefghij", "bob", "Upklmnopqrs", b"k" * 600)
    errors = await session(secrets, None, tmp_path, origin_server)
    assert errors == []
    text = rendered_logs.getvalue()
    assert "bringup.link_up" in text and "http.request" in text
    assert f"AT+CPIN={REDACTED}" in text and f"AT+XGAUTH={REDACTED}" in text
    assert_hidden(text, secrets)
    key_text = base64.encodebytes(secrets.key).decode().replace("\n", "")
    assert key_text[:WINDOW] in secrets.pem().decode()  # what the check looks for is real


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(secrets=secrets_strategy, fault=faults_strategy)
@example(  # the echo of the PIN loses its first byte: "T+CPIN=..." is no echo any more
    secrets=Secrets("73914265", "ualice", "Pwabcdefghij", "bob", "Upklmnopqrs", b"q" * 400),
    fault=LineFault('AT+CPIN="', 0, "replace", 0xFF),
)
@example(  # the APN password's echo split by an inserted line end
    secrets=Secrets("12345678", "ualice", "Pwabcdefghij", "bob", "Upklmnopqrs", b"q" * 400),
    fault=LineFault("AT+XGAUTH=", 20, "insert", 0x0A),
)
@example(  # the header of the key's read damaged: its lines read as the module's lines
    secrets=Secrets("12345678", "ualice", "Pwabcdefghij", "bob", "Upklmnopqrs", b"\x07" * 700),
    fault=LineFault("AT+FSRFEX", 22, "replace", 0x41),
)
@example(  # the Authorization header's echo damaged
    secrets=Secrets("12345678", "ualice", "Pwabcdefghij", "bob", "Upklmnopqrs", b"q" * 400),
    fault=LineFault("AT+HTTPACTION=99", 60, "drop", 0),
)
async def test_no_single_line_fault_shows_a_secret(
    rendered_logs: io.StringIO,
    origin_server: OriginServer,
    tmp_path_factory: pytest.TempPathFactory,
    secrets: Secrets,
    fault: LineFault,
) -> None:
    start = len(rendered_logs.getvalue())
    errors = await session(secrets, fault, tmp_path_factory.mktemp("fs"), origin_server)
    text = rendered_logs.getvalue()[start:] + "\n".join(errors)
    assert_hidden(text, secrets)


# ---------------------------------------------------------------------- the rule itself


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("OK", "OK"),
        ("+CME ERROR: 16", "+CME ERROR: 16"),
        ("+CREG: 1,5", "+CREG: 1,5"),
        ("+CPIN: READY", "+CPIN: READY"),
        ("+HTTPCLOSED: HTTP Link Closed", "+HTTPCLOSED: HTTP Link Closed"),
        ("+XIIC:    1,10.0.0.2", "+XIIC:    1,10.0.0.2"),
        ('\ufffdT+CPIN="73914"', "<unrecognised line, 17 bytes>"),
        ("+CPIN: 73914", "<unrecognised report, 12 bytes>"),  # one damaged byte from an echo
        ('AT+XGAUTH=1,1,"u","secretpw"', "<unrecognised line, 28 bytes>"),
        ("+MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "<unrecognised report, 33 bytes>"),
        ("+CSQ: 21,99,Pwsecret", "<unrecognised report, 20 bytes>"),
    ],
)
def test_loggable_line_shows_known_shapes_only(line: str, expected: str) -> None:
    assert loggable_line(line) == expected


@pytest.mark.parametrize(
    "damaged",
    [
        'AT+CPIN="73914265"',
        '\ufffdT+CPIN="73914265"',
        'T+CPIN="73914265"',
        'AT+CPIM="73914265"',  # the name itself damaged
        'ATCPIN="73914265"',
        'AT\xd4CPIN="73914265"',
        'AT+CPIN"73914265"',
        "AT+CPIN73914265",
        'AT + CPIN = "73914265"',
        "the command 'AT+CPIN=\"73914265\"' failed",
        'AT+XGAUTH=1,1,"u","73914265"',
        'AT+XGAUT=1,1,"u","73914265"',
        'AT+CLCK="SC",1,"73914265"',
        'AT+CPWD="SC","0000","73914265"',
        'AT+CPIN=<puk>,"73914265"',  # a placeholder does not shield a value after it
        "AT+CPIN=<puk> 73914265",
    ],
)
def test_redact_hides_a_secret_command_with_one_damaged_character(damaged: str) -> None:
    hidden = redact(damaged)
    assert "73914265" not in hidden and REDACTED in hidden


def test_redact_keeps_what_carries_no_secret() -> None:
    for text in ("AT+CPIN?", "AT+CPIN=?", "AT+CSQ", "the SIM asks for its PIN: pass pin=..."):
        assert redact(text) == text
    # a command written out with placeholders in a message stays readable
    assert "(AT+CPIN=<puk>,<new pin>), then attach" in str(n58aio.SimPukRequired())


def test_every_error_redacts_its_own_text() -> None:
    url = "http://alice:Pwsecret12@host/fw.bin?x=1"
    raised = [
        n58aio.InvalidValue(f"cannot tell the module file name from {url!r}"),
        n58aio.ProtocolError('AT+CPIN="73914265": framing lost'),
        n58aio.CommandError('AT+XGAUTH=1,1,"u","Pwsecret12"', "ERROR"),
        n58aio.CommandTimeout('AT+CPIN="73914265"', 5),
        n58aio.PortClosedError(f"cannot open {url}"),
    ]
    for exc in raised:
        text = f"{exc} {exc!r} {exc.args}"
        assert "Pwsecret12" not in text and "73914265" not in text, text


async def test_fetch_url_refusal_hides_the_url_password(modem: n58aio.Modem) -> None:
    with pytest.raises(n58aio.InvalidValue) as caught:
        await modem.files.fetch_url("http://alice:Pwsecret12@127.0.0.1/", "x.bin")
    assert "Pwsecret12" not in f"{caught.value} {caught.value!r}"
    assert "<redacted>@127.0.0.1" in str(caught.value)


def test_rendered_tracebacks_show_no_frame_locals(capsys: pytest.CaptureFixture[str]) -> None:
    from n58aio.cli.logging import configure_logging

    def fails(pin: str) -> None:
        raise n58aio.WrongPinError()

    pin = str(73914264 + 1)  # in the frames' locals, not in their source lines
    # an earlier test of this process may have configured structlog: the library's events go
    # there while it is configured, and this part is about the stdlib route of enable_logging
    structlog.reset_defaults()
    stream = io.StringIO()
    handler = n58aio.enable_logging("console", "DEBUG", stream=stream)
    try:
        try:
            fails(pin)
        except n58aio.N58Error:
            n58aio.logs.get_logger().exception("test.failed")
    finally:
        logging.getLogger("n58aio").removeHandler(handler)
    assert "WrongPinError" in stream.getvalue() and "73914265" not in stream.getvalue()
    for log_format in ("console", "json"):
        with configure_logging(log_format, "debug"):
            try:
                fails(pin)
            except n58aio.N58Error:
                structlog.get_logger().exception("test.failed")
        err = capsys.readouterr().err
        assert "WrongPinError" in err and "73914265" not in err, err
        if log_format == "json":
            assert json.loads(err.strip().splitlines()[-1])["event"] == "test.failed"
