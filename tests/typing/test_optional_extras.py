"""The library core works without the ``cli`` (rich) and ``emulator`` (trustme) extras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GATEWAY = Path(__file__).parents[1] / "logs" / "gateway_script.py"
BLOCK = "import sys; sys.modules['rich'] = None; sys.modules['trustme'] = None; "


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_requests_and_downloads_through_the_emulator_without_extras() -> None:
    code = f"import runpy; sys.argv = ['gateway', 'quiet']; runpy.run_path({str(GATEWAY)!r}, "
    code += "run_name='__main__'); assert 'rich' not in sys.modules or sys.modules['rich'] is None"
    run = _python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "get 200 10 download 3000\n"


def test_the_cli_names_the_extra_it_needs() -> None:
    code = "from n58aio.cli import main; sys.exit(main(['get', 'http://127.0.0.1/', '-d', 'x']))"
    run = _python(code)
    assert run.returncode == 1, run.stderr
    assert run.stderr == "n58aio: error: this command needs rich: pip install 'n58aio[cli]'\n"
