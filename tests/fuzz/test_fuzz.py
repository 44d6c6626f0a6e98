"""Fuzzing in the test suite: the targets of ``fuzz/`` under hypothesis, and a short atheris run.

``N58_FUZZ_EXAMPLES`` sets the number of hypothesis inputs per target (default 300);
``N58_FUZZ_SECONDS`` runs the coverage-guided atheris fuzzer on each target for that many
seconds (default: a few thousand runs). The long runs are ``python -m fuzz.parser
-max_total_time=3600`` and the like (see ``docs/reliability.md``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz import targets  # noqa: E402
from n58aio.cmux import Frame, FrameType, encode_frame, encode_uih  # noqa: E402

EXAMPLES = int(os.environ.get("N58_FUZZ_EXAMPLES", "300"))
SECONDS = int(os.environ.get("N58_FUZZ_SECONDS", "0"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# Inputs built from the targets' own vocabulary reach deep states quicker than random bytes.
token_programs = st.lists(
    st.one_of(
        st.tuples(st.just(4), st.integers(0, len(targets.TOKENS) - 1)).map(bytes),
        st.tuples(st.integers(5, 6), st.integers(0, 255), st.integers(0, 255)).map(bytes),
        st.binary(min_size=1, max_size=24).map(lambda raw: bytes([0, len(raw) - 1]) + raw),
    ),
    max_size=40,
).map(lambda ops: b"\x40\x40" + b"".join(ops))


def feed(raw: bytes) -> bytes:
    """The program operation that feeds ``raw`` (1 to 64 bytes)."""
    return bytes([0, len(raw) - 1]) + raw


def token(raw: bytes) -> bytes:
    """The program operation that feeds one of the targets' tokens."""
    return bytes([4, targets.TOKENS.index(raw)])


def command_with_data(data: bytes) -> bytes:
    """The program operation that declares ``AT+HTTPACTION=2,<n>,1`` with ``data``."""
    index = [text for text, _ in targets.COMMANDS].index("AT+HTTPACTION=2,{n},1")
    return bytes([5, index, len(data) - 1]) + data


ECHO = feed(b"AT+HTTPACTION=2,5,1\r") + token(b"\r\n>")


@FUZZ
@given(st.one_of(st.binary(max_size=2000), token_programs))
# a report before the data's echo; a damaged echo; an echo that ends early with the reply
@example(
    b"\x40\x40"
    + command_with_data(b"hello")
    + ECHO
    + token(b"\r\n+CREG: 0,1\r\n")
    + feed(b"hello\r\nOK\r\n")
)
@example(b"\x40\x40" + command_with_data(b"hello") + ECHO + feed(b"hexlo\r\nOK\r\n"))
@example(b"\x40\x40" + command_with_data(b"hel\r\n") + ECHO + feed(b"hel\r\nOK\r\n"))
def test_parser_never_raises_stays_bounded_and_split_invariant(data: bytes) -> None:
    targets.parser_input(data)


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\x00\x00" + b"\x00\x7f" + b"x" * 128 + b"\x00\x7f" + b"y" * 128)  # a long line
def test_emulator_line_reader_and_syntax(data: bytes) -> None:
    targets.atline_input(data)


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\x1f" + b"\x00\x01\x05hello" + b"\x03\x05\x07\x80" + b"\x05\x03\xf9\xf9\xf9")
def test_cmux_decoder_never_raises_stays_bounded_and_split_invariant(data: bytes) -> None:
    targets.cmux_input(data)


def module_tokens(*tokens: bytes) -> bytes:
    """Program operations feeding the module these tokens, each followed by loop turns."""
    return b"".join(bytes([3, targets._MODULE_TOKENS.index(raw)]) + b"\x05" * 8 for raw in tokens)


MUX_SESSION = (
    b"AT+CMUX=0\r",
    encode_frame(Frame(0, FrameType.SABM, pf=True)),
    encode_frame(Frame(1, FrameType.SABM, pf=True)),
    encode_frame(Frame(2, FrameType.SABM, pf=True)),
    encode_uih(1, b"AT+CSQ\r", 64),
    encode_uih(2, b"AT+HTTPSETUP\r", 64),
)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 10))
@given(st.binary(max_size=600))
@example(b"\x01\x01\x03\x00\x03\x07\x03\x08")  # attach, HTTP setup and action (no network)
@example(b"\x01\x01" + module_tokens(*MUX_SESSION, *targets._MODULE_TOKENS[-5:]))  # mux, CLD
def test_emulated_module_handles_any_input(data: bytes) -> None:
    targets.module_input(data)


def _decoder_program(codings: bytes, size: int, repeat: int, rest: bytes) -> bytes:
    """A ``decoder_input`` program for a valid body, not flipped: the fixed head, the
    document, then what encoding and splitting read."""
    head = bytes([len(codings) - 1, *codings.ljust(3, b"\0"), size, repeat, 1, 1])
    return head + bytes(range(size)) + rest


@settings(FUZZ, max_examples=max(10, EXAMPLES // 3))
@given(st.binary(max_size=600))
@example(_decoder_program(b"\0", 200, 255, b"\x80\x01" + b"\x05" * 40))  # gzip, two members
@example(_decoder_program(b"\0\1\2", 50, 255, b"\x01\x00\x01"))  # gzip, deflate, br
@example(_decoder_program(b"\3\0", 250, 255, b"\x80\x01\x80\x01"))  # zstd, gzip frames
def test_content_decoder_is_bounded_and_exact(data: bytes) -> None:
    targets.decoder_input(data)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("target", ["parser", "atline", "decoder", "cmux"])
def test_atheris_short_run(target: str, tmp_path: Path) -> None:
    """A short coverage-guided run; longer with N58_FUZZ_SECONDS (see docs/reliability.md)."""
    budget = ["-max_total_time=" + str(SECONDS)] if SECONDS else ["-runs=3000"]
    result = subprocess.run(
        [sys.executable, "-m", f"fuzz.{target}", *budget, "-artifact_prefix=" + f"{tmp_path}/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=max(120, SECONDS * 2),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done " in result.stderr, result.stderr[-3000:]
