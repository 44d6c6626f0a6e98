"""Reads the ``AT+FSRFEX`` checksum cannot vouch for: two swapped adjacent bytes keep the XOR.

The emulator's ``faults.swap_next_read`` swaps two different adjacent bytes of a read's content
after the checksum was computed. A plain read returns the wrong bytes (the residual risk the
docs state); a verified read, a write's read-back, ``install`` and ``read_to`` / ``fetch_url``
with a hash read again and recover, or refuse when the damage persists.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from test_module_fs import commands_seen
from transfer_fixtures import *  # noqa: F403  (fixtures)
from transfer_helpers import ModemFactory

from n58aio import IntegrityError, ModuleFileError
from n58aio.emulator.origin import OriginServer, pattern_bytes

DATA = pattern_bytes(11, 10_000)  # three pieces of AT+FSRFEX (4096 bytes each at most)


def swapped_pair(wrong: bytes, right: bytes) -> list[int]:
    """The positions where ``wrong`` differs from ``right``."""
    return [index for index, (a, b) in enumerate(zip(wrong, right, strict=True)) if a != b]


async def test_a_swap_passes_the_checksum_and_a_verified_read_recovers(
    make_modem: ModemFactory,
) -> None:
    emulator, modem = await make_modem(attach=False)
    (emulator.fs_root / "f.bin").write_bytes(DATA)
    reads = commands_seen(emulator, "AT+FSRFEX")
    emulator.faults.swap_next_read()
    wrong = await modem.files.read("f.bin")  # the module's checksum cannot tell
    first, second = swapped_pair(wrong, DATA)
    assert second == first + 1 and wrong[first : second + 1] == DATA[first : second + 1][::-1]
    assert len(reads) == 3
    reads.clear()
    emulator.faults.swap_next_read()
    assert await modem.files.read("f.bin", verify=True) == DATA
    assert len(reads) == 7  # every piece twice, the damaged one a third time
    reads.clear()
    assert await modem.files.read("f.bin", verify=True) == DATA
    assert len(reads) == 6


async def test_a_verified_read_refuses_when_no_two_reads_agree(
    make_modem: ModemFactory,
) -> None:
    emulator, modem = await make_modem(attach=False)
    (emulator.fs_root / "f.bin").write_bytes(DATA)
    emulator.faults.swap_next_read(2)  # the first piece damaged twice, each time elsewhere
    with pytest.raises(ModuleFileError, match="3 reads gave different bytes") as caught:
        await modem.files.read("f.bin", verify=True)
    assert caught.value.name == "f.bin"


async def test_a_writes_read_back_is_read_again_before_the_file_is_judged(
    make_modem: ModemFactory,
) -> None:
    emulator, modem = await make_modem(attach=False)
    emulator.faults.swap_next_read()  # the read-back is damaged, the file is not
    assert await modem.files.write("w.bin", DATA, verify=True) == len(DATA)
    assert (emulator.fs_root / "w.bin").read_bytes() == DATA
    emulator.faults.swap_next_read(6)  # both read-backs damaged: refused, never believed
    with pytest.raises(ModuleFileError, match="reads back different"):
        await modem.files.write("w.bin", DATA, verify=True)


async def test_install_rewrites_a_file_whose_read_differs(make_modem: ModemFactory) -> None:
    emulator, modem = await make_modem(attach=False)
    (emulator.fs_root / "k.pem").write_bytes(DATA)
    writes = commands_seen(emulator, "AT+FSWF")
    assert await modem.files.install("k.pem", DATA) is False
    assert writes == []
    emulator.faults.swap_next_read()  # the comparison read is damaged: written again
    assert await modem.files.install("k.pem", DATA) is True
    assert writes and (emulator.fs_root / "k.pem").read_bytes() == DATA


async def test_fetch_url_with_a_hash_reads_a_damaged_copy_again(
    make_modem: ModemFactory, files_origin: OriginServer, files_dir: Path, tmp_path: Path
) -> None:
    data = pattern_bytes(5, 6_000)  # two pieces
    (files_dir / "fw.bin").write_bytes(data)
    emulator, modem = await make_modem()
    digest = hashlib.sha256(data).hexdigest()
    emulator.faults.swap_next_read()
    async with asyncio.timeout(30):
        result = await modem.files.fetch_url(  # (the module download waits 2 s for an unzip)
            files_origin.url("/files/fw.bin"), tmp_path / "fw.bin", sha256=digest
        )
    assert (tmp_path / "fw.bin").read_bytes() == data and result.sha256 == digest


async def test_read_to_refuses_a_copy_damaged_twice_and_verify_needs_no_hash(
    make_modem: ModemFactory, tmp_path: Path
) -> None:
    emulator, modem = await make_modem(attach=False)
    (emulator.fs_root / "f.bin").write_bytes(DATA)
    digest = hashlib.md5(DATA).hexdigest()
    emulator.faults.swap_next_read(6)  # both copies damaged (three pieces each): refused
    with pytest.raises(IntegrityError, match="md5"):
        await modem.files.read_to("f.bin", tmp_path / "bad.bin", md5=digest)
    assert not (tmp_path / "bad.bin").exists()
    assert not (tmp_path / "bad.bin.part").exists()
    emulator.faults.swap_next_read()  # no hash: verify reads every piece until two agree
    result = await modem.files.read_to("f.bin", tmp_path / "v.bin", verify=True)
    assert (tmp_path / "v.bin").read_bytes() == DATA and result.md5 == digest
