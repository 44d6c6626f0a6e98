"""``n58aio get|head|post|download`` against an emulated modem and a local origin."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import RunCli

from n58aio.cli.common import EXIT_HTTP, EXIT_MODEM, EXIT_OK, EXIT_TRANSFER, EXIT_USAGE
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256


async def test_get_to_file_and_stdout(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    target = tmp_path / "body.bin"
    url = origin_server.url("/bytes/150000")
    result = await run_cli("get", url, "--device", emulator.device, "-o", str(target))
    assert result.status == EXIT_OK, result.stderr
    assert target.read_bytes() == pattern_bytes(0, 150000)
    assert result.stdout == b""

    # binary-safe on stdout, in receive mode 0 too
    result = await run_cli(
        "get", origin_server.url("/bytes/3000"), "--device", emulator.device, "--recvmode", "0"
    )
    assert result.status == EXIT_OK, result.stderr
    assert result.stdout == pattern_bytes(0, 3000)


async def test_get_include_and_head(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer
) -> None:
    url = origin_server.url("/bytes/100")
    result = await run_cli("get", "-i", url, "--device", emulator.device)
    assert result.status == EXIT_OK, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 100" in head.lower()
    assert body == pattern_bytes(0, 100)

    result = await run_cli("head", url, "--device", emulator.device)
    assert result.status == EXIT_OK, result.stderr
    assert result.out.startswith("HTTP/1.1 200 OK\r\n")
    assert result.out.endswith("\r\n\r\n")
    assert origin_server.requests[-1].method == "HEAD"


async def test_post_bodies_and_headers(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    url = origin_server.url("/echo")
    device = ["--device", emulator.device]

    result = await run_cli("post", url, "--data", "a=1&b=2", *device)
    assert result.status == EXIT_OK, result.stderr
    echo = json.loads(result.stdout)
    assert echo["method"] == "POST"
    assert echo["content_type"] == "application/x-www-form-urlencoded"
    assert base64.b64decode(echo["body_b64"]) == b"a=1&b=2"

    result = await run_cli("post", url, "--json", '{"temp": 21.5}', "-H", "X-Trace: t1", *device)
    assert result.status == EXIT_OK, result.stderr
    echo = json.loads(result.stdout)
    assert echo["content_type"] == "application/json"
    assert base64.b64decode(echo["body_b64"]) == b'{"temp": 21.5}'
    assert ["X-Trace", "t1"] in echo["headers"]

    body = tmp_path / "body.xml"
    body.write_bytes(b"<a>1</a>")
    result = await run_cli(
        "post", url, "--file", str(body), "--content-type", "application/xml", *device
    )
    assert result.status == EXIT_OK, result.stderr
    echo = json.loads(result.stdout)
    assert echo["content_type"] == "application/xml"
    assert base64.b64decode(echo["body_b64"]) == b"<a>1</a>"

    result = await run_cli("post", url, "--file", "-", *device, stdin="raw body")
    assert result.status == EXIT_OK, result.stderr
    assert base64.b64decode(json.loads(result.stdout)["body_b64"]) == b"raw body"


async def test_https_needs_a_choice_of_verification(
    run_cli: RunCli, emulator: Emulator, tls_origin: OriginServer, origin_server: OriginServer
) -> None:
    url = f"https://localhost:{tls_origin.port}/bytes/5000"
    device = ["--device", emulator.device]
    result = await run_cli("get", url, "--ca-cert", "ca.pem", *device)
    assert result.status == EXIT_OK, result.stderr
    assert result.stdout == pattern_bytes(0, 5000)

    result = await run_cli("get", url, "--insecure", *device)
    assert result.status == EXIT_OK, result.stderr
    assert result.stdout == pattern_bytes(0, 5000)

    # a missing option, as --help says of status 2: the CLI's flags first, nothing sent
    before = emulator.bytes_written
    result = await run_cli("get", url, *device)
    assert result.status == EXIT_USAGE
    assert result.stderr.startswith("n58aio: error: HTTPS needs --ca-cert NAME (the CA")
    assert "--insecure" in result.stderr and "TLSConfig" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert emulator.bytes_written == before

    # the same when a redirect leads to https (the library's TLSNotConfigured)
    hop = origin_server.url(f"/redirect?to={url}")
    result = await run_cli("get", "-L", hop, *device)
    assert result.status == EXIT_USAGE
    assert result.stderr.startswith("n58aio: error: HTTPS needs --ca-cert NAME (the CA")
    assert [r.path for r in origin_server.requests] == ["/redirect"]

    result = await run_cli("get", url, "--ca-cert", "missing.pem", *device)
    assert result.status == EXIT_MODEM
    assert result.stdout == b""


async def test_http_errors(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer
) -> None:
    url = origin_server.url("/status/404")
    device = ["--device", emulator.device]
    result = await run_cli("get", url, *device)
    assert result.status == EXIT_OK  # like curl: the body is the answer
    assert result.out == "404 Not Found\n"

    result = await run_cli("get", url, "--fail", *device)
    assert result.status == EXIT_HTTP
    assert result.stdout == b""
    assert "404" in result.stderr


async def test_download_verified_and_mismatch(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 300_000
    url = origin_server.url(f"/bytes/{size}")
    target = tmp_path / "file.bin"
    device = ["--device", emulator.device]
    result = await run_cli("download", url, str(target), "--sha256", pattern_sha256(size), *device)
    assert result.status == EXIT_OK, result.stderr
    assert target.read_bytes() == pattern_bytes(0, size)
    assert "sha256 verified" in result.stderr

    md5 = hashlib.md5(pattern_bytes(0, 1000), usedforsecurity=False).hexdigest()
    small = tmp_path / "small.bin"
    url = origin_server.url("/bytes/1000")
    result = await run_cli("download", url, str(small), "--md5", md5, *device)
    assert result.status == EXIT_OK, result.stderr

    wrong = tmp_path / "wrong.bin"
    result = await run_cli("download", url, str(wrong), "--sha256", "0" * 64, *device)
    assert result.status == EXIT_TRANSFER
    assert not wrong.exists()
    # said once, as the error line (no log line before it saying the same)
    assert result.stderr.splitlines() == [
        f"n58aio: error: sha256 of {url} is {pattern_sha256(1000)}, expected {'0' * 64}"
    ]

    result = await run_cli("download", origin_server.url("/status/404"), str(wrong), *device)
    assert result.status == EXIT_HTTP
    assert "404" in result.stderr


async def test_progress_bar_on_a_terminal(
    run_cli: RunCli, emulator: Emulator, origin_server: OriginServer, tmp_path: Path
) -> None:
    url = origin_server.url("/bytes/200000")
    target = tmp_path / "bar.bin"
    device = ["--device", emulator.device]
    result = await run_cli("get", url, "-o", str(target), *device, tty_stderr=True)
    assert result.status == EXIT_OK, result.stderr
    assert "195.3/195.3 KiB" in result.stderr  # done/total of the finished bar

    result = await run_cli("get", url, "-o", str(target), "--no-progress", *device, tty_stderr=True)
    assert result.status == EXIT_OK
    assert "KiB" not in result.stderr
