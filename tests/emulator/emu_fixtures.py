"""Fixtures of the emulator tests, star-imported by each test module.

There is no conftest.py here: its module name would clash with the other test directories'.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from emu_helpers import (
    MANUAL_HOSTS,
    PBREADY,
    SERVER_NAMES,
    EmuFactory,
    Origin,
    OriginFactory,
    Port,
    TLSMaterial,
)

from n58aio.emulator import Emulator, EmulatorConfig

__all__ = [
    "emu_port_fixture",
    "make_emu_fixture",
    "make_origin_fixture",
    "origin_fixture",
    "tls_fixture",
]


@pytest.fixture(scope="session", name="tls")
def tls_fixture() -> TLSMaterial:
    ca = trustme.CA()
    return TLSMaterial(
        ca=ca,
        server=ca.issue_cert(*SERVER_NAMES),
        client=ca.issue_cert("n58-client@example.com"),
        other_ca=trustme.CA(),
    )


@pytest.fixture(name="make_origin")
async def make_origin_fixture() -> AsyncIterator[OriginFactory]:
    origins: list[Origin] = []

    async def factory(ssl_context: ssl.SSLContext | None = None) -> Origin:
        origin = await Origin(ssl_context).start()
        origins.append(origin)
        return origin

    yield factory
    for origin in origins:
        await origin.close()


@pytest.fixture(name="origin")
async def origin_fixture(make_origin: OriginFactory) -> Origin:
    return await make_origin()


@pytest.fixture(name="make_emu")
async def make_emu_fixture(tmp_path: Path, tls: TLSMaterial) -> AsyncIterator[EmuFactory]:
    """Start emulators (resolving the manual's hosts to 127.0.0.1) and open their port."""
    running: list[tuple[Emulator, Port]] = []

    async def factory(**overrides: Any) -> tuple[Emulator, Port]:
        fs_root = tmp_path / f"fs{len(running)}"
        tls.install(fs_root)
        settings: dict[str, Any] = {"resolve": dict(MANUAL_HOSTS), "fs_root": fs_root}
        settings.update(overrides)
        emu = await Emulator(EmulatorConfig(**settings)).start()
        port = await Port.open(emu.url)
        running.append((emu, port))
        await port.expect(PBREADY)
        return emu, port

    yield factory
    for emu, port in running:
        await port.close()
        await emu.close()


@pytest.fixture(name="emu_port")
async def emu_port_fixture(make_emu: EmuFactory) -> tuple[Emulator, Port]:
    """An emulator with the data link up and an open port (``+PBREADY`` consumed)."""
    return await make_emu(pdp_up=True)
