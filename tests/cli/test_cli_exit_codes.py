"""Usage and value errors exit 2 with a message that says what to type; nothing reaches the
modem (``python -m n58aio`` as a real subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import run_module

from n58aio.cli.common import EXIT_USAGE
from n58aio.emulator import Emulator

CASES = [
    (
        ["download", "http://127.0.0.1:9/x", "f.bin", "--sha256", "abc"],
        "64 hexadecimal digits that `sha256sum FILE` prints",
    ),
    (["download", "http://127.0.0.1:9/x", "f.bin", "--md5", "xyz"], "32 hexadecimal digits"),
    (["get", "http://b\u00fccher.test/"], "try http://xn--bcher-kva.test/"),
    (["get", "127.0.0.1:8080/json"], "try http://127.0.0.1:8080/json"),
    (["get", "ftp://127.0.0.1/x"], "use http or https"),
    (["at", "foo"], "commands start with AT, e.g. ATI"),
]


@pytest.mark.parametrize(("argv", "hint"), CASES, ids=[" ".join(c[0][:2]) for c in CASES])
async def test_value_errors_exit_2_before_the_modem(
    emulator: Emulator, tmp_path: Path, argv: list[str], hint: str
) -> None:
    before = emulator.bytes_written
    status, out, err = await run_module(*argv, "--device", emulator.device)
    assert status == EXIT_USAGE, err
    assert hint in err
    assert "usage:" in err
    assert out == ""
    assert emulator.bytes_written == before


async def test_a_value_the_library_refuses_exits_2(emulator: Emulator) -> None:
    body = "a" * 3000
    argv = ["post", "http://127.0.0.1:9/echo", "--data", body, "--device", emulator.device]
    status, _, err = await run_module(*argv)
    assert status == EXIT_USAGE
    assert err.strip() == (
        "n58aio: error: the request is 3000 bytes, over the N58's budget of 2048 bytes per "
        "request: body 3000; send a smaller body"
    )


def test_help_says_what_exit_2_means() -> None:
    from n58aio.cli.common import EXIT_CODES_HELP

    assert "2    usage or value error" in EXIT_CODES_HELP
