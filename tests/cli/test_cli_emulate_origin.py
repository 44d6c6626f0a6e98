"""The quick start runs as written (issue #24, item 12): ``n58aio emulate --origin`` serves the
bundled origin as ``example.com`` (HTTP and HTTPS, its CA on the module as ``ca.pem``), prints
its pty and nothing else; the README's Python example and download line, unchanged, run
against it."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from cli_fixtures import SUBPROCESS_TIMEOUT, subprocess_env

from n58aio.emulator.cli import SAMPLE_SHA256
from n58aio.emulator.origin import pattern_bytes

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS_SHA256 = "2227d40edde0e56173945525741715bfabf69afd37111caf866734a7f79f7c3c"


def _env(**extra: str) -> dict[str, str]:
    """The subprocesses' environment: this tree's n58aio whatever the working directory."""
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def _readme_block(lang: str, containing: str) -> str:
    blocks: list[str] = re.findall(rf"^```{lang}\n(.*?)^```$", README.read_text(), re.M | re.S)
    return next(block for block in blocks if containing in block)


@contextlib.asynccontextmanager
async def _emulate(*options: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "n58aio",
        "emulate",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(SUBPROCESS_TIMEOUT):
            device = (await process.stdout.readline()).decode().strip()
        yield process, device
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    async with asyncio.timeout(SUBPROCESS_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out, err.decode("utf-8", "replace")


async def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    assert SAMPLE_SHA256 == DOCS_SHA256  # /files/big.bin and fw.bin are the docs' file
    async with _emulate("--origin") as (process, device):
        assert device.startswith("/dev/pts/")
        env = _env(N58_DEVICE=device)
        program = _readme_block("python", "open_modem(device)")
        status, out, err = await _run([sys.executable, "-c", program], env, tmp_path)
        assert status == 0, err
        assert err == ""
        first, echo = out.decode().splitlines()
        assert first.startswith("200 ") and "'content-length', '300000'" in first.lower()
        request = json.loads(ast.literal_eval(echo))  # the printed bytes of /echo's answer
        assert (request["method"], request["target"]) == ("POST", "/echo")
        assert ["Host", "example.com"] in request["headers"]

        # the README's download line: HTTPS, verified against the origin's CA on the module
        line = _readme_block("sh", "n58aio download").split("n58aio download ", 1)[1]
        words = line.replace("\\\n", " ").split("\n", 1)[0].split()
        argv = [sys.executable, "-m", "n58aio", "download", *words]
        status, _, err = await _run(argv, env, tmp_path)
        assert status == 0, err
        assert (tmp_path / "fw.bin").read_bytes() == pattern_bytes(0, 300_000)

        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        async with asyncio.timeout(SUBPROCESS_TIMEOUT):
            assert await process.wait() == 0
            # quiet by default: the user's terminal gets the pty path and nothing else
            assert await process.stderr.read() == b""


async def test_verbose_logs_the_origin_and_the_module(tmp_path: Path) -> None:
    async with _emulate("--origin", "-v", "--origin-files", str(tmp_path)) as (process, device):
        (tmp_path / "note.txt").write_bytes(b"hello\n")
        env = _env(N58_DEVICE=device)
        argv = [sys.executable, "-m", "n58aio", "get", "http://example.com/files/note.txt"]
        status, out, err = await _run(argv, env, tmp_path)
        assert (status, out) == (0, b"hello\n"), err
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        async with asyncio.timeout(SUBPROCESS_TIMEOUT):
            assert await process.wait() == 0
            logged = (await process.stderr.read()).decode()
        assert "emulate.origin" in logged and f"files={os.fspath(tmp_path)}" in logged
