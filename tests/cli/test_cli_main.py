"""Argument handling, exit codes, logging and the demo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import RunCli, run_module

from n58aio.cli import build_parser
from n58aio.cli.common import EXIT_MODEM, EXIT_OK, EXIT_USAGE, header, size
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer, pattern_bytes


def test_size_and_header_parsing() -> None:
    assert size("4096") == 4096
    assert size("256KB") == 256 * 1024
    assert size("1.5MB") == 1536 * 1024
    assert size("2MiB") == size("2m") == 2 << 20
    assert size("10b") == 10
    for bad in ("", "-1", "0", "1.3b", "4TB", "MB"):
        with pytest.raises(argparse.ArgumentTypeError):
            size(bad)
    assert header("X-Token: abc: def") == ("X-Token", "abc: def")
    assert header("Accept:") == ("Accept", "")
    for bad in ("no colon", ": value", " X: y"):
        with pytest.raises(argparse.ArgumentTypeError):
            header(bad)


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for line in (
        "2    usage or value",
        "3    modem error",
        "4    HTTP error",
        "5    transfer error",
    ):
        assert line in text
    for command in ("get", "head", "post", "download", "at", "demo", "emulate"):
        assert f"    {command} " in text


async def test_usage_errors(run_cli: RunCli) -> None:
    for argv in (
        [],
        ["frobnicate"],
        ["get"],
        ["get", "http://h/", "--header", "nocolon"],
        ["post", "http://h/", "--data", "a", "--json", "{}"],
        ["get", "http://h/", "--insecure", "--ca-cert", "ca.pem"],
        ["demo", "--size", "lots"],
        ["--log-level", "chatty", "demo"],
    ):
        result = await run_cli(*argv)
        assert result.status == EXIT_USAGE, argv
        assert "usage:" in result.stderr, argv

    result = await run_cli("get", "http://h/")  # neither --device nor $N58_DEVICE
    assert result.status == EXIT_USAGE
    assert "N58_DEVICE" in result.stderr

    result = await run_cli("post", "http://h/", "--json", "{bad", "--device", "/dev/null")
    assert result.status == EXIT_USAGE
    assert "not valid JSON" in result.stderr


async def test_modem_errors(run_cli: RunCli, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-tty")
    for argv in (
        ["get", "http://h/", "--device", missing],
        ["at", "AT", "--device", missing],
        ["download", "http://h/x", str(tmp_path / "x"), "--device", missing],
    ):
        result = await run_cli(*argv)
        assert result.status == EXIT_MODEM, argv
        assert result.stderr == (  # once, what to check, no errno repeated
            f"n58aio: error: PortOpenError: cannot open {missing}: no such device: check the "
            "path (ls /dev/ttyUSB* /dev/ttyACM*), the cable and that the module is powered\n"
        )


async def test_device_from_environment_and_json_logs(
    run_cli: RunCli,
    emulator: Emulator,
    origin_server: OriginServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("N58_DEVICE", emulator.device)
    url = origin_server.url("/bytes/2000")
    result = await run_cli("--log-format", "json", "get", url, "--log-level", "debug")
    assert result.status == EXIT_OK, result.stderr
    assert result.stdout == pattern_bytes(0, 2000)
    records = [json.loads(line) for line in result.stderr.splitlines()]
    events = {record["event"] for record in records}
    assert {"modem.open", "command.sent"} <= events
    assert all(record["level"] and record["timestamp"] for record in records)

    result = await run_cli("--log-level", "info", "at", "AT")
    assert result.status == EXIT_OK
    assert "modem.open" in result.stderr and "command.sent" not in result.stderr

    result = await run_cli("at", "AT")  # warnings and up only: nothing on stderr
    assert result.status == EXIT_OK
    assert result.stderr == ""


async def test_demo_in_process_paced(run_cli: RunCli, tmp_path: Path) -> None:
    kept = tmp_path / "demo.bin"
    argv = ["demo", "--size", "64KB", "--baud", "921600", "--keep", str(kept)]
    result = await run_cli(*argv)
    assert result.status == EXIT_OK, result.stderr
    assert "hash verified" in result.out
    assert "% of the line rate" in result.out
    # the module answered at 921600 because the port switched when it opened: said so once
    assert "module       answers at 921600 baud\n" in result.out
    assert "line speed   921600 baud (switched from 115200 when the port was opened)" in result.out
    assert kept.read_bytes() == pattern_bytes(0, 64 * 1024)


async def test_demo_subprocess() -> None:
    status, out, err = await run_module("demo", "--size", "256KB", "--baud", "0")
    assert status == EXIT_OK, err
    assert "verified" in out
    assert "262144 bytes" in out
    steps = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    assert steps == ["module", "sim", "registration", "apn", "link", "line"], out
    assert "ready, PIN accepted" in out and "demo.m2m" in out
    assert "115200 baud (as opened)" in out  # --baud 0: the line stays at the opening rate


def test_events_the_error_line_repeats_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    from n58aio.cli.logging import configure_logging

    for level, shown in (("warning", False), ("debug", True)):
        with configure_logging("console", level):
            log = structlog.get_logger("n58aio")
            log.warning("resync.retry", attempt=1, hunt=True)
            log.error("download.integrity_failed", algorithm="sha256")
            log.warning("resync.failed", error="gone")
        err = capsys.readouterr().err
        assert ("resync.retry" in err) is shown and ("integrity_failed" in err) is shown
        assert "resync.failed" in err  # not what an error line says: kept
