"""Fixtures shared by the integration tests: origin servers, TLS files, emulators, modems."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.nginx import NginxOrigin, find_nginx
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.tlsfiles import TLSFiles
from n58aio.sim import PIN_REGISTRY

ModemFactory = Callable[..., Awaitable[tuple[Emulator, n58aio.Modem]]]
ContentOrigin = OriginServer | NginxOrigin


@pytest.fixture(autouse=True)
def _fresh_pin_registry() -> None:
    """Every test starts with a process that sent no PIN yet (emulated SIMs share an ICCID)."""
    PIN_REGISTRY.forget()


@pytest.fixture(scope="session")
def tls_files() -> TLSFiles:
    """A throwaway CA with a server certificate for localhost and a client certificate."""
    return TLSFiles.generate()


@pytest.fixture
async def origin_server() -> AsyncIterator[OriginServer]:
    """A plain HTTP origin on 127.0.0.1."""
    async with OriginServer() as server:
        yield server


@pytest.fixture
async def tls_origin(tls_files: TLSFiles) -> AsyncIterator[OriginServer]:
    """An HTTPS origin on 127.0.0.1 with a certificate for localhost."""
    async with OriginServer(tls=tls_files) as server:
        yield server


def _need_nginx() -> None:
    """Skip without nginx, except in CI (CI=true), where .ci/run installs it: fail there."""
    if find_nginx() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("nginx is missing in CI: .ci/run installs Debian's nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")


@pytest.fixture
async def nginx_origin() -> AsyncIterator[NginxOrigin]:
    """Debian's nginx on 127.0.0.1 with its own config (gzip, ranges, keep-alive, chunked)."""
    _need_nginx()
    async with NginxOrigin() as server:
        yield server


@pytest.fixture
async def nginx_tls_origin(tls_files: TLSFiles) -> AsyncIterator[NginxOrigin]:
    """nginx serving HTTPS with the trustme certificate for localhost and 127.0.0.1."""
    _need_nginx()
    async with NginxOrigin(tls=tls_files) as server:
        yield server


@pytest.fixture(params=["origin", "nginx"])
async def content_origin(request: pytest.FixtureRequest) -> AsyncIterator[ContentOrigin]:
    """The same content paths (``/bytes/<n>``, ``/json/<n>``) on OriginServer and on nginx."""
    if request.param == "nginx":
        _need_nginx()
        async with NginxOrigin() as nginx:
            yield nginx
    else:
        async with OriginServer() as server:
            yield server


@pytest.fixture(params=["origin", "nginx"])
async def content_tls_origin(
    request: pytest.FixtureRequest, tls_files: TLSFiles
) -> AsyncIterator[ContentOrigin]:
    """HTTPS variant of ``content_origin``."""
    if request.param == "nginx":
        _need_nginx()
        async with NginxOrigin(tls=tls_files) as nginx:
            yield nginx
    else:
        async with OriginServer(tls=tls_files) as server:
            yield server


@pytest.fixture
def module_fs(tmp_path: Path, tls_files: TLSFiles) -> Path:
    """The emulated module's file system, holding ca.pem, cc.pem and ck.pem."""
    root = tmp_path / "module-fs"
    root.mkdir()
    tls_files.write_to(root)
    return root


@pytest.fixture
async def make_modem(module_fs: Path) -> AsyncIterator[ModemFactory]:
    """Start an emulator and open a modem on its pty: ``emu, modem = await make_modem()``."""
    stack: list[tuple[Emulator, Any]] = []

    async def factory(
        *, attach: bool = True, config: dict[str, Any] | None = None, **modem_options: Any
    ) -> tuple[Emulator, n58aio.Modem]:
        settings: dict[str, Any] = {"fs_root": module_fs, "resolve": {"origin.test": "127.0.0.1"}}
        settings.update(config or {})
        emulator = Emulator(EmulatorConfig(**settings))
        await emulator.start()
        context = n58aio.open_modem(emulator.device, **modem_options)
        modem = await context.__aenter__()
        stack.append((emulator, context))
        if attach:
            await modem.attach()
        return emulator, modem

    yield factory
    for emulator, context in reversed(stack):
        await context.__aexit__(None, None, None)
        await emulator.close()


@pytest.fixture
async def modem(make_modem: ModemFactory) -> n58aio.Modem:
    """An attached modem on a default emulator."""
    _, opened = await make_modem()
    return opened
