"""``n58aio files ls|put|get|rm``, local certificate files for ``--ca-cert``, and
``get/download --module``, against an emulated modem."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import SUBPROCESS_TIMEOUT, RunCli, subprocess_env

from n58aio.cli.common import EXIT_OK, EXIT_TRANSFER, EXIT_USAGE
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles


async def test_files_put_ls_get_rm(run_cli: RunCli, emulator: Emulator, tmp_path: Path) -> None:
    data = pattern_bytes(4, 70_000)
    local = tmp_path / "fw.bin"
    local.write_bytes(data)
    device = ["--device", emulator.device]
    result = await run_cli("files", "put", str(local), "dir/fw.bin", "--verify", *device)
    assert result.status == EXIT_OK, result.stderr
    assert (emulator.fs_root / "dir" / "fw.bin").read_bytes() == data
    result = await run_cli("files", "ls", *device)
    assert result.status == EXIT_OK, result.stderr
    assert "dir/" in result.out.split() and "ca.pem" in result.out
    free = result.out.splitlines()[-1].split()  # on stdout, last: `files ls | tail -1`
    assert free[1:] == ["bytes", "free"] and int(free[0]) > 0
    assert "bytes free" not in result.stderr
    result = await run_cli("files", "ls", "dir", *device)
    assert result.out.split() == ["70000", "dir/fw.bin", free[0], "bytes", "free"]
    back = tmp_path / "back.bin"
    sha = hashlib.sha256(data).hexdigest()
    result = await run_cli("files", "get", "dir/fw.bin", str(back), "--sha256", sha, *device)
    assert result.status == EXIT_OK, result.stderr
    assert back.read_bytes() == data and f"sha256 {sha}" in result.stderr
    result = await run_cli(
        "files", "get", "dir/fw.bin", str(tmp_path / "x"), "--sha256", "0" * 64, *device
    )
    assert result.status == EXIT_TRANSFER and not (tmp_path / "x").exists()
    result = await run_cli("files", "rm", "dir/fw.bin", *device)
    assert result.status == EXIT_OK, result.stderr
    assert not (emulator.fs_root / "dir" / "fw.bin").exists()
    result = await run_cli("files", "rm", "dir/fw.bin", *device)
    assert result.status == EXIT_TRANSFER and "cannot delete" in result.stderr
    result = await run_cli("files", "put", str(local), "n" * 121, *device)
    assert result.status == EXIT_USAGE and "at most 120" in result.stderr  # nothing sent


async def test_files_get_verify_reads_until_two_reads_agree(
    run_cli: RunCli, emulator: Emulator, tmp_path: Path
) -> None:
    data = pattern_bytes(6, 9_000)
    (emulator.fs_root / "s.bin").write_bytes(data)
    device = ["--device", emulator.device]
    emulator.faults.swap_next_read()  # two bytes swapped: the module's checksum still matches
    result = await run_cli("files", "get", "s.bin", str(tmp_path / "v.bin"), "--verify", *device)
    assert result.status == EXIT_OK, result.stderr
    assert (tmp_path / "v.bin").read_bytes() == data


async def test_files_progress_bar_on_a_terminal(
    run_cli: RunCli, emulator: Emulator, tmp_path: Path
) -> None:
    local = tmp_path / "a.bin"
    local.write_bytes(pattern_bytes(1, 40_000))
    result = await run_cli("files", "put", str(local), "--device", emulator.device, tty_stderr=True)
    assert result.status == EXIT_OK, result.stderr
    assert "put a.bin" in result.stderr


async def test_ca_cert_from_a_local_file_in_a_subprocess(
    emulator: Emulator, tls_origin: OriginServer, tls_files: TLSFiles, tmp_path: Path
) -> None:
    (emulator.fs_root / "ca.pem").unlink()
    (tmp_path / "ca.pem").write_bytes(tls_files.ca_cert_pem)
    url = f"https://localhost:{tls_origin.port}/bytes/5000"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "n58aio",
        "get",
        url,
        "--ca-cert",
        "./ca.pem",
        "--device",
        emulator.device,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=subprocess_env(),
    )
    async with asyncio.timeout(SUBPROCESS_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode == EXIT_OK, err.decode()
    assert out == pattern_bytes(0, 5000)
    assert (emulator.fs_root / "ca.pem").read_bytes() == tls_files.ca_cert_pem


async def test_local_client_cert_and_key(
    run_cli: RunCli, emulator: Emulator, tls_files: TLSFiles, tmp_path: Path
) -> None:
    async with OriginServer(tls=tls_files, require_client_cert=True) as origin:
        for name, pem in (
            ("me.crt", tls_files.client_cert_pem),
            ("me.key", tls_files.client_key_pem),
        ):
            (tmp_path / name).write_bytes(pem)
        url = f"https://localhost:{origin.port}/bytes/100"
        result = await run_cli(
            "get",
            url,
            "--ca-cert",
            "ca.pem",
            "--client-cert",
            str(tmp_path / "me.crt"),
            "--client-key",
            str(tmp_path / "me.key"),
            "--device",
            emulator.device,
        )
    assert result.status == EXIT_OK, result.stderr
    assert result.stdout == pattern_bytes(0, 100)
    assert (emulator.fs_root / "me.key").read_bytes() == tls_files.client_key_pem


async def test_get_and_download_via_the_module(
    run_cli: RunCli, emulator: Emulator, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    data = pattern_bytes(6, 120_000)
    (served / "fw.bin").write_bytes(data)
    async with OriginServer(files=served) as origin:
        url = origin.url("/files/fw.bin")
        device = ["--device", emulator.device]
        target = tmp_path / "fw.bin"
        md5 = hashlib.md5(data).hexdigest()
        result = await run_cli("download", url, str(target), "--module", "--md5", md5, *device)
        assert result.status == EXIT_OK, result.stderr
        assert target.read_bytes() == data
        assert "module MD5 check passed" in result.stderr
        result = await run_cli("get", url, "--module", *device)
        assert result.status == EXIT_OK, result.stderr
        assert result.stdout == data
        result = await run_cli(
            "download", url, str(tmp_path / "y"), "--module", "--md5", "0" * 32, *device
        )
        assert result.status == EXIT_TRANSFER and "MD5 check failed" in result.stderr
    result = await run_cli("files", "bogus", *device)
    assert result.status == EXIT_USAGE
