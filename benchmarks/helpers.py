"""Helper processes: the origin server and the emulators, each outside the measured client.

``python -m benchmarks.helpers origin`` and ``python -m benchmarks.helpers emulators --count N
[--baud B] [--chunk-size C]`` print one JSON line (the origin's URL, the emulators' device paths)
and serve until their standard input closes; they then print a second JSON line with their own
CPU time, so a run can tell whether the emulator side was saturated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import subprocess
import sys
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from .common import REPO_ROOT, Usage, quiet_logging, subprocess_env

__all__ = ["Helper"]

_START_TIMEOUT = 30.0


class Helper:
    """A helper subprocess; ``with Helper("emulators", "--count", "8") as h: h.info["devices"]``."""

    def __init__(self, kind: str, *args: str) -> None:
        self.argv = [sys.executable, "-m", "benchmarks.helpers", kind, *args]
        self.info: dict[str, Any] = {}
        self.final: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Helper:
        proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=subprocess_env(),
            cwd=REPO_ROOT,
        )
        try:
            self.info = self._read_line(proc, _START_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        self._proc = proc
        return self

    def _read_line(self, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"helper {self.argv[3:]} gave no answer (exit {proc.poll()})")
        info: dict[str, Any] = json.loads(line)
        return info

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the helper's signal to stop and report its CPU time
        try:
            self.final = self._read_line(proc, 10.0)
        except (RuntimeError, ValueError):
            self.final = {}
        try:
            proc.wait(10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _wait_stdin_closed() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)


def _announce(info: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


async def _serve_origin() -> None:
    from n58aio.emulator.origin import OriginServer

    async with OriginServer() as origin:
        start = Usage.now()
        _announce({"url": origin.url("/")[:-1]})
        await _wait_stdin_closed()
        _announce({"cpu": Usage.now().cpu - start.cpu, "requests": len(origin.requests)})


async def _serve_nginx(paths: list[str]) -> None:
    """nginx with its own config (:class:`~n58aio.emulator.nginx.NginxOrigin`), the files of
    ``paths`` written first; its CPU is the master's and worker's (children of this helper)."""
    import resource

    from n58aio.emulator.nginx import NginxOrigin

    async with NginxOrigin() as origin:
        for path in paths:
            origin.url(path)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        _announce({"url": origin.url("/")[:-1]})
        await _wait_stdin_closed()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # nginx reaped on close
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    _announce({"cpu": cpu})


async def _serve_emulators(count: int, baud: int | None, chunk_size: int) -> None:
    from n58aio.emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(baud=baud, chunk_size=chunk_size, pdp_up=True)
    async with AsyncExitStack() as stack:
        emulators = [await stack.enter_async_context(Emulator(config)) for _ in range(count)]
        await asyncio.sleep(0.05)  # let +PBREADY out before clients open the ports
        start = Usage.now()
        _announce({"devices": [emu.device for emu in emulators]})
        await _wait_stdin_closed()
        end = Usage.now()
        _announce(
            {
                "cpu": end.cpu - start.cpu,
                "wall": end.wall - start.wall,
                "written": sum(emu.bytes_written for emu in emulators),
            }
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the helper processes."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.helpers")
    sub = parser.add_subparsers(dest="kind", required=True)
    sub.add_parser("origin")
    nginx = sub.add_parser("nginx")
    nginx.add_argument("paths", nargs="*", help="content paths to write first (/bytes/<n>)")
    emu = sub.add_parser("emulators")
    emu.add_argument("--count", type=int, default=1)
    emu.add_argument("--baud", type=int, default=None)
    emu.add_argument("--chunk-size", type=int, default=1460)
    args = parser.parse_args(argv)
    quiet_logging()
    if args.kind == "origin":
        asyncio.run(_serve_origin())
    elif args.kind == "nginx":
        asyncio.run(_serve_nginx(args.paths))
    else:
        asyncio.run(_serve_emulators(args.count, args.baud, args.chunk_size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
