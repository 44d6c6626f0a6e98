"""Fixtures of the pool tests, star-imported by each test module.

There is no conftest.py here: its module name would clash with the other test directories'.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from n58aio.emulator import Emulator, EmulatorConfig

__all__ = [
    "EmulatorFactory",
    "Emulators",
    "Ser2net",
    "Ser2netFactory",
    "emulators_fixture",
    "free_port",
    "open_fds",
    "ser2net_fixture",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def open_fds() -> set[int]:
    """This process's open file descriptors."""
    return {int(name) for name in os.listdir("/proc/self/fd")}


class Emulators:
    """Starts emulators for a test and closes them at its end.

    Pools open :meth:`url`: for a pty, a symbolic link to it in the test's directory (as udev
    links a USB modem under ``/dev/serial/by-id``). :meth:`drop_port` removes the link with the
    port, so that reopen attempts cannot reach the same pty number handed to another process.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._started: list[Emulator] = []
        self._links: dict[int, Path] = {}

    async def __call__(self, count: int, **settings: Any) -> list[Emulator]:
        """Start ``count`` emulators with ``EmulatorConfig(**settings)``."""
        batch = []
        for _ in range(count):
            emulator = Emulator(EmulatorConfig(**settings))
            await emulator.start()
            self._started.append(emulator)
            if emulator.device.startswith("/dev/"):
                link = self._root / f"tty-n58-{emulator.ident}"
                link.symlink_to(emulator.device)
                self._links[emulator.ident] = link
            batch.append(emulator)
        return batch

    def url(self, emulator: Emulator) -> str:
        """What a pool opens for ``emulator``."""
        link = self._links.get(emulator.ident)
        return str(link) if link is not None else emulator.url

    def urls(self, emulators: Sequence[Emulator]) -> list[str]:
        """:meth:`url` of each."""
        return [self.url(emulator) for emulator in emulators]

    def drop_port(self, emulator: Emulator) -> None:
        """The port vanishes for good: ``faults.drop_port()`` and the link is removed."""
        emulator.faults.drop_port()
        link = self._links.get(emulator.ident)
        if link is not None:
            link.unlink()

    async def close(self) -> None:
        """Close every emulator started."""
        for emulator in reversed(self._started):
            await emulator.close()


EmulatorFactory = Emulators


@pytest.fixture(name="emulators")
async def emulators_fixture(tmp_path: Path) -> AsyncIterator[Emulators]:
    """``emus = await emulators(4, baud=...)``; ``emulators.urls(emus)`` for a pool."""
    factory = Emulators(tmp_path / "dev")
    (tmp_path / "dev").mkdir()
    yield factory
    await factory.close()


@dataclass
class Ser2net:
    """A running ser2net serving pseudo-terminals as RFC 2217 on loopback ports."""

    config: Path
    ports: list[int]
    process: asyncio.subprocess.Process

    @property
    def urls(self) -> list[str]:
        """``rfc2217://127.0.0.1:PORT`` of every served device."""
        return [f"rfc2217://127.0.0.1:{port}" for port in self.ports]


Ser2netFactory = Callable[[Sequence[str]], Awaitable[Ser2net]]

SER2NET_CONNECTION = """\
connection: &modem{index}
  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}
  connector: serialdev,{device},115200n81,local
  options:
    kickolduser: true
"""


@pytest.fixture(name="ser2net")
async def ser2net_fixture(tmp_path: Path) -> AsyncIterator[Ser2netFactory]:
    """``gw = await ser2net([pty, ...])`` starts ``ser2net -n -d -c CONFIG`` (4.x YAML) and
    waits until its ports accept; it is terminated at teardown. Skips without the binary."""
    binary = shutil.which("ser2net") or next(
        (p for p in ("/usr/sbin/ser2net", "/usr/bin/ser2net") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        pytest.skip("the ser2net binary is not installed (apt-get install ser2net)")
    running: list[Ser2net] = []

    async def factory(devices: Sequence[str]) -> Ser2net:
        ports = [free_port() for _ in devices]
        config = tmp_path / f"ser2net-{len(running)}.yaml"
        config.write_text(
            "".join(
                SER2NET_CONNECTION.format(index=index, port=port, device=device)
                for index, (port, device) in enumerate(zip(ports, devices, strict=True))
            )
        )
        process = await asyncio.create_subprocess_exec(
            binary,
            "-n",
            "-d",
            "-c",
            str(config),
            "-P",
            str(tmp_path / f"ser2net-{len(running)}.pid"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gateway = Ser2net(config, ports, process)
        running.append(gateway)
        async with asyncio.timeout(10):
            for port in ports:
                while not _listening(port):
                    if process.returncode is not None:
                        raise RuntimeError(f"ser2net exited with {process.returncode}")
                    await asyncio.sleep(0.05)
        return gateway

    yield factory
    for gateway in running:
        with contextlib.suppress(ProcessLookupError):
            gateway.process.terminate()
        try:
            async with asyncio.timeout(5):
                await gateway.process.wait()
        except TimeoutError:
            gateway.process.kill()
            await gateway.process.wait()


def _listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:port (read from /proc/net/tcp, so that the
    check does not open a connection to the serial device)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # local address, state LISTEN
            return True
    return False
