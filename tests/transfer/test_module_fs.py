"""``modem.files`` end to end through the emulator: checked writes and reads, limits refused
before any data is sent, certificates for verified HTTPS, module-side transfers closing the loop."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from transfer_fixtures import *  # noqa: F403  (fixtures)
from transfer_helpers import ModemFactory

import n58aio
from n58aio import FileEntry, IntegrityError, InvalidValue, ModuleFileError, Progress, TLSConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

BIG = pattern_bytes(7, 600 * 1024)


def commands_seen(emulator: n58aio.emulator.Emulator, prefix: str) -> list[str]:
    """Record every command line starting with ``prefix`` the module receives from now on."""
    seen: list[str] = []

    def arm() -> None:
        emulator.faults.on_command(prefix, hit)

    def hit() -> None:
        seen.append(prefix)
        arm()

    arm()
    return seen


async def test_600k_round_trip_with_progress(make_modem: ModemFactory, tmp_path: Path) -> None:
    emulator, modem = await make_modem(attach=False)
    local = tmp_path / "big.bin"
    local.write_bytes(BIG)
    ups: list[Progress] = []
    downs: list[Progress] = []
    async with asyncio.timeout(60):
        size = await modem.files.write("dir/big.bin", local, progress=ups.append)
        assert size == len(BIG)
        assert (emulator.fs_root / "dir" / "big.bin").read_bytes() == BIG
        result = await modem.files.read_to(
            "dir/big.bin",
            tmp_path / "back.bin",
            sha256=hashlib.sha256(BIG).hexdigest(),
            progress=downs.append,
        )
    assert (tmp_path / "back.bin").read_bytes() == BIG
    assert not (tmp_path / "back.bin.part").exists()
    assert (result.size, result.md5) == (len(BIG), hashlib.md5(BIG).hexdigest())
    for reports in (ups, downs):
        assert reports[0].done == 0 and reports[-1].done == len(BIG)
        assert all(p.total == len(BIG) for p in reports)
        assert [p.done for p in reports] == sorted(p.done for p in reports)


async def test_corrupted_read_is_detected_and_read_again(make_modem: ModemFactory) -> None:
    emulator, modem = await make_modem(attach=False)
    data = pattern_bytes(2, 10_000)
    (emulator.fs_root / "f.bin").write_bytes(data)
    reads = commands_seen(emulator, "AT+FSRFEX")
    emulator.faults.corrupt_next_read()
    assert await modem.files.read("f.bin") == data
    assert len(reads) == 4  # three pieces, the corrupted one twice
    emulator.faults.corrupt_next_read(2)
    with pytest.raises(ModuleFileError, match="failed twice: checksum"):
        await modem.files.read("f.bin")


async def test_full_disk_refused_before_any_data(make_modem: ModemFactory) -> None:
    emulator, modem = await make_modem(attach=False, config={"fs_capacity": 64_000})
    free = await modem.files.free_space()
    assert free == 64_000 - sum(
        -(-p.stat().st_size // 500) * 500 for p in emulator.fs_root.iterdir()
    )
    writes = commands_seen(emulator, "AT+FSWF")
    with pytest.raises(InvalidValue, match=f"needs {free + 500} bytes .* and {free} are free"):
        await modem.files.write("big.bin", b"x" * (free + 1))
    with pytest.raises(InvalidValue, match="do not fit"):
        await modem.files.write("huge.bin", b"x" * (1024 * 1024 + 1))
    assert writes == []
    assert not (emulator.fs_root / "big.bin").exists()
    assert await modem.files.write("fits.bin", b"y" * free) == free
    assert await modem.files.free_space() == 0


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("n" * 121, "at most 120"),
        ("a,b.txt", "contains ,"),
        ('a"b', 'contains "'),
        ("a;b", "contains ;"),
        ("a\r\nb", "contains CR"),
        ("../up.txt", "leaves"),
        ("", "empty"),
    ],
)
async def test_bad_names_refused_before_anything_is_sent(
    make_modem: ModemFactory, name: str, problem: str
) -> None:
    emulator, modem = await make_modem(attach=False)
    sent = commands_seen(emulator, "AT+FS")
    with pytest.raises(InvalidValue, match=problem):
        await modem.files.write(name, b"data")
    assert sent == []


async def test_list_size_rename_delete(make_modem: ModemFactory) -> None:
    emulator, modem = await make_modem(attach=False)
    await modem.files.write("a.txt", b"alpha")
    await modem.files.write("d/b.txt", b"\r\nbeta\r\n", verify=True)
    listing = await modem.files.list()
    assert FileEntry("a.txt", 5) in listing and FileEntry("d", None) in listing
    assert await modem.files.list("d") == [FileEntry("d/b.txt", 8)]
    await modem.files.rename("a.txt", "c.txt")
    assert await modem.files.size("c.txt") == 5
    assert not await modem.files.exists("a.txt")
    await modem.files.delete("c.txt")
    with pytest.raises(ModuleFileError, match=r"no file 'c\.txt'"):
        await modem.files.size("c.txt")
    with pytest.raises(ModuleFileError, match="cannot delete"):
        await modem.files.delete("c.txt")
    assert not (emulator.fs_root / "c.txt").exists()


async def test_install_private_ca_then_verified_https(
    make_modem: ModemFactory,
    tls_origin: OriginServer,
    tls_files: TLSFiles,
    module_fs: Path,
    tmp_path: Path,
) -> None:
    for name in ("ca.pem", "cc.pem", "ck.pem"):
        (module_fs / name).unlink()
    emulator, modem = await make_modem()
    local = tmp_path / "private-ca.pem"
    local.write_bytes(tls_files.ca_cert_pem)
    with pytest.raises(n58aio.N58Error):  # nothing on the module to verify with yet
        await modem.get(tls_origin.url("/bytes/10"), tls=TLSConfig(ca_cert="private-ca.pem"))
    tls = await modem.files.install_tls(ca=local)
    assert tls == TLSConfig(ca_cert="private-ca.pem")
    assert (module_fs / "private-ca.pem").read_bytes() == tls_files.ca_cert_pem
    response = await modem.get(tls_origin.url("/bytes/1000"), tls=tls)
    assert response.status_code == 200 and response.content == pattern_bytes(0, 1000)
    writes = commands_seen(emulator, "AT+FSWF")
    assert await modem.files.install_tls(ca=local) == tls  # already there: not written again
    assert writes == []


async def test_install_mutual_tls_from_bytes(
    make_modem: ModemFactory, tls_files: TLSFiles, module_fs: Path
) -> None:
    for name in ("ca.pem", "cc.pem", "ck.pem"):
        (module_fs / name).unlink()
    _, modem = await make_modem(attach=False)
    tls = await modem.files.install_tls(
        ca=tls_files.ca_cert_pem,
        client_cert=tls_files.client_cert_pem,
        client_key=tls_files.client_key_pem,
    )
    assert tls == TLSConfig(ca_cert="ca.pem", client_cert="cc.pem", client_key="ck.pem")
    assert (module_fs / "ck.pem").read_bytes() == tls_files.client_key_pem
    with pytest.raises(InvalidValue, match="go together"):
        await modem.files.install_tls(ca=tls_files.ca_cert_pem, client_key=b"k")


async def test_module_get_then_verified_read_back(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, tmp_path: Path
) -> None:
    data = pattern_bytes(5, 200_000)
    (files_dir / "fw.bin").write_bytes(data)
    progress: list[Progress] = []
    async with asyncio.timeout(60):
        result = await modem.files.fetch_url(
            files_origin.url("/files/fw.bin"),
            tmp_path / "fw.bin",
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            progress=progress.append,
        )
    assert (tmp_path / "fw.bin").read_bytes() == data
    assert result.module_get is not None and result.module_get.verified
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert progress[-1].done == len(data)
    with pytest.raises(IntegrityError, match="sha256"):
        await modem.files.fetch_url(
            files_origin.url("/files/fw.bin"), tmp_path / "bad.bin", sha256="0" * 64, keep=False
        )
    assert not (tmp_path / "bad.bin").exists()
    assert not await modem.files.exists("fw.bin")


async def test_local_file_uploaded_then_posted(
    modem: n58aio.Modem, origin_server: OriginServer, tmp_path: Path
) -> None:
    data = pattern_bytes(9, 300_000)
    local = tmp_path / "report.bin"
    local.write_bytes(data)
    progress: list[Progress] = []
    async with asyncio.timeout(60):
        result = await modem.files.post_file(
            local, origin_server.url("/upload/report"), progress=progress.append
        )
    assert result.length == len(data)
    assert origin_server.uploads["report"] == data
    assert progress[-1].done == len(data)
    too_big = tmp_path / "too-big.bin"
    too_big.write_bytes(b"z" * 524289)
    with pytest.raises(InvalidValue, match="524288"):
        await modem.files.post_file(too_big, origin_server.url("/upload/x"))


async def test_manual_quirks_of_module_get(modem: n58aio.Modem) -> None:
    from n58aio.transfer.module_files import _GET_REPORT

    match = _GET_REPORT.match("+ HTTPGETRPT: 30,303")  # the manual's spelling of 9.7
    assert match is not None and match.groups() == ("HTTP", "30", "303")
    written = modem.channel.bytes_written
    with pytest.raises(InvalidValue, match="type 1"):
        await modem.module_get("http://origin.test/x.bin", unzip=False)
    assert modem.channel.bytes_written == written
