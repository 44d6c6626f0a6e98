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


OPTIONS_SCRIPT = """\
import datetime

import n58aio


async def main(modem: n58aio.Modem, pool: n58aio.ModemPool) -> None:
    ok = await modem.get("http://h/", timeouts=5, follow_redirects=True, max_redirects=3)
    host: str = ok.url.host
    took: datetime.timedelta = ok.elapsed
    await pool.delete("http://h/", timeouts=n58aio.Timeouts(5, read=2))
    async with modem.stream("GET", "http://h/", headers={"A": "b"}) as response:
        async for line in response.aiter_lines():
            print(line, host, took)
    await modem.get("http://h/", timouts=5)
    await pool.options("http://h/", follow_redirects="yes")
"""


@pytest.mark.timeout(300)
def test_mypy_strict_checks_request_options(tmp_path: Path) -> None:
    script = tmp_path / "options_user.py"
    script.write_text(OPTIONS_SCRIPT, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "options_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = run.stdout + run.stderr
    assert 'options_user.py:14: error: Unexpected keyword argument "timouts"' in output, output
    assert 'options_user.py:15: error: Argument "follow_redirects"' in output, output
    assert "Found 2 errors in 1 file" in output, output
