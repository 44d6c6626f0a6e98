"""A user's script outside the repository type-checks against the installed package with
``mypy --strict``: the editable install is visible to type checkers and the types are real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_SCRIPT = """\
import asyncio

import n58aio


async def main() -> None:
    async with n58aio.open_modem("/dev/ttyUSB0") as modem:
        status: n58aio.LinkStatus = await modem.attach()
        response = await modem.request("GET", "http://127.0.0.1/")
        body: bytes = response.content
        print(status, body, response.status_code + 1)
        await modem.attach("soon")


asyncio.run(main())
"""


@pytest.mark.timeout(300)
def test_mypy_strict_sees_the_installed_package(tmp_path: Path) -> None:
    script = tmp_path / "gateway.py"
    script.write_text(USER_SCRIPT, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "gateway.py"],
        cwd=tmp_path,  # not the repository: the package is found through the install only
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "Cannot find implementation or library stub" not in output, output
    assert "missing library stubs or py.typed" not in output, output
    # the one deliberate mistake is found, on its line, and nothing else
    assert 'gateway.py:12: error: Argument 1 to "attach" of "Modem" has incompatible type' in output
    assert "Found 1 error in 1 file" in output, output
    assert run.returncode == 1
