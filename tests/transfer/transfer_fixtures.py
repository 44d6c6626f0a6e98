"""Fixtures of the transfer tests, star-imported by the test modules that use them.

There is no conftest.py here: its module name would clash with the other test directories'.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from n58aio.emulator.origin import OriginServer
from n58aio.emulator.tlsfiles import TLSFiles

__all__ = ["files_dir", "files_origin", "tls_files_origin"]


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    """The directory served under ``/files/`` by :func:`files_origin`."""
    root = tmp_path / "served"
    root.mkdir()
    return root


@pytest.fixture
async def files_origin(files_dir: Path) -> AsyncIterator[OriginServer]:
    """A plain HTTP origin serving ``files_dir`` (plus the usual routes)."""
    async with OriginServer(files=files_dir) as server:
        yield server


@pytest.fixture
async def tls_files_origin(files_dir: Path, tls_files: TLSFiles) -> AsyncIterator[OriginServer]:
    """An HTTPS origin (certificate for localhost) serving ``files_dir``."""
    async with OriginServer(tls=tls_files, files=files_dir) as server:
        yield server
