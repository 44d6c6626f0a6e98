"""Fixtures and helpers of the CLI tests, star-imported by each test module (a conftest.py
here would clash with the other test directories' under mypy).

``run_cli`` calls :func:`n58aio.cli.main` in a worker thread (it runs its own event loop) while
the emulator and the origin keep running in the test's loop; ``run_module`` runs
``python -m n58aio`` as a real subprocess.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from n58aio.cli import main
from n58aio.cli.common import BRINGUP_ENV
from n58aio.emulator import Emulator, EmulatorConfig

__all__ = [
    "SUBPROCESS_TIMEOUT",
    "CliResult",
    "FakeTTY",
    "RunCli",
    "emulator_fixture",
    "run_cli_fixture",
    "run_module",
    "subprocess_env",
]

SUBPROCESS_TIMEOUT = 60.0
CLI_TIMEOUT = 60.0


@dataclass(frozen=True)
class CliResult:
    """Exit status and output of one CLI run."""

    status: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        """stdout as text."""
        return self.stdout.decode("utf-8", "replace")


class FakeTTY(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


RunCli = Callable[..., Awaitable[CliResult]]


class _ThreadStream:
    """Stands in for ``sys.stdout`` (say): the thread running the CLI gets ``target``, every
    other thread (the emulator's logs in the test's loop) the stream that was there before."""

    def __init__(self, previous: Any, thread: int, target: Any) -> None:
        self._previous = previous
        self._thread = thread
        self._target = target

    def __getattr__(self, name: str) -> Any:
        stream = self._target if threading.get_ident() == self._thread else self._previous
        return getattr(stream, name)


def _call_main(argv: list[str], stdin: str, stderr: io.StringIO) -> CliResult:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    source = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    thread = threading.get_ident()
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout = _ThreadStream(saved[0], thread, stdout)
    sys.stderr = _ThreadStream(saved[1], thread, stderr)
    sys.stdin = _ThreadStream(saved[2], thread, source)
    try:
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse: usage errors and --help
            status = exc.code if isinstance(exc.code, int) else 1
        stdout.flush()
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    return CliResult(status, raw.getvalue(), stderr.getvalue())


@pytest.fixture(name="run_cli")
def run_cli_fixture(monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``await run_cli("get", url, "--device", dev)``: main() in a thread, output captured."""
    for name in ("N58_DEVICE", *BRINGUP_ENV.values()):
        monkeypatch.delenv(name, raising=False)

    async def runner(*argv: str, stdin: str = "", tty_stderr: bool = False) -> CliResult:
        stderr = FakeTTY() if tty_stderr else io.StringIO()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[CliResult] = loop.create_future()

        def target() -> None:
            try:
                result = _call_main(list(argv), stdin, stderr)
            except BaseException as exc:
                loop.call_soon_threadsafe(done.set_exception, exc)
            else:
                loop.call_soon_threadsafe(done.set_result, result)

        # a daemon thread, not asyncio.to_thread: a CLI run that hangs fails the test after
        # the timeout instead of blocking the loop's shutdown
        threading.Thread(target=target, name="cli-main", daemon=True).start()
        async with asyncio.timeout(CLI_TIMEOUT):
            return await done

    return runner


@pytest.fixture(name="emulator")
async def emulator_fixture(module_fs: Path) -> AsyncIterator[Emulator]:
    """An emulated N58 on a pty (data link down, ca.pem in its file system)."""
    config = EmulatorConfig(
        fs_root=module_fs, resolve={"origin.test": "127.0.0.1", "localhost": "127.0.0.1"}
    )
    async with Emulator(config) as emu:
        yield emu


def subprocess_env() -> dict[str, str]:
    """The environment of CLI subprocesses: no N58_DEVICE, logs as JSON-free console text."""
    env = {
        k: v for k, v in os.environ.items() if k != "N58_DEVICE" and k not in BRINGUP_ENV.values()
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run_module(
    *argv: str, stdin: bytes | None = None, timeout: float = SUBPROCESS_TIMEOUT
) -> tuple[int, str, str]:
    """Run ``python -m n58aio ARGV`` to completion; return (status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "n58aio",
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate(stdin)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
