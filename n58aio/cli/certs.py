"""Local certificate files named by ``--ca-cert``, ``--client-cert`` and ``--client-key``:
installed on the module before use (below :mod:`n58aio.cli.common`, which opens modems)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from ..http import TLSConfig
from ..modem import Modem

__all__ = ["install_local_certs", "with_local_certs"]


async def install_local_certs(modem: Modem, args: argparse.Namespace) -> None:
    """Install the ``--ca-cert`` / ``--client-cert`` / ``--client-key`` values that name local
    files (uploaded unless already there with the same content; on the module they keep their
    file name) and use them for HTTPS."""
    tls = modem.http.tls
    if tls is None:
        return
    local = _local_files(tls)
    for path in local.values():
        await modem.files.install(path.name, path)
    if local:
        names = {field: path.name for field, path in local.items()}
        modem.configure_tls(
            dataclasses.replace(
                tls,
                ca_cert=names.get("ca_cert", tls.ca_cert),
                client_cert=names.get("client_cert", tls.client_cert),
                client_key=names.get("client_key", tls.client_key),
            )
        )


def _local_files(tls: TLSConfig) -> dict[str, Path]:
    """The TLS file settings that name existing local files."""
    found: dict[str, Path] = {}
    for field in ("ca_cert", "client_cert", "client_key"):
        value = getattr(tls, field)
        if value and Path(value).is_file():
            found[field] = Path(value)
    return found


@asynccontextmanager
async def with_local_certs(
    opened: AbstractAsyncContextManager[Modem], args: argparse.Namespace
) -> AsyncIterator[Modem]:
    """Open the modem of ``opened`` (an ``open_modem`` context) and install local certificates."""
    async with opened as modem:
        await install_local_certs(modem, args)
        yield modem
