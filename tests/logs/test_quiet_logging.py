"""A library is quiet: an unconfigured application prints nothing; one line turns logs on."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import n58aio
from n58aio.logs import get_logger

SCRIPT = Path(__file__).with_name("gateway_script.py")
RESULT = "get 200 10 download 3000\n"


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), mode],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_an_unconfigured_application_prints_nothing() -> None:
    run = _run("quiet")
    assert run.returncode == 0, run.stderr
    assert run.stdout == RESULT
    assert run.stderr == ""


def test_basic_config_shows_the_events_as_text() -> None:
    run = _run("basic")
    assert run.returncode == 0, run.stderr
    assert run.stdout == RESULT
    lines = run.stderr.splitlines()
    assert any(line.startswith("INFO:n58aio:modem.open ") and "url=" in line for line in lines)
    assert any(line.startswith("DEBUG:n58aio") and "AT+HTTPACTION" in line for line in lines)
    assert any(line.startswith("INFO:n58aio:download.complete ") for line in lines)


def test_enable_logging_json_writes_one_object_per_line() -> None:
    run = _run("json")
    assert run.returncode == 0, run.stderr
    assert run.stdout == RESULT
    records = [json.loads(line) for line in run.stderr.splitlines()]
    events = {record["event"] for record in records}
    assert {"modem.open", "download.complete"} <= events
    opened = next(record for record in records if record["event"] == "modem.open")
    assert opened["level"] == "info"
    assert opened["logger"] == "n58aio"
    assert opened["url"].startswith("/dev/")
    assert "timestamp" in opened and "modem" in opened


@pytest.fixture
def unconfigured_structlog() -> Iterator[None]:
    saved = structlog.get_config() if structlog.is_configured() else None
    structlog.reset_defaults()
    yield None
    if saved is None:
        structlog.reset_defaults()
    else:
        structlog.configure(**saved)


@pytest.mark.usefixtures("unconfigured_structlog")
def test_stdlib_route_honours_levels_and_fields() -> None:
    sink = io.StringIO()
    handler = n58aio.enable_logging("json", "warning", stream=sink)
    try:
        log = get_logger("n58aio.test", modem="m1")
        log.info("hidden.event", a=1)
        log.warning("shown.event", a=2)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed.event")
    finally:
        logging.getLogger("n58aio").removeHandler(handler)
        logging.getLogger("n58aio").setLevel(logging.NOTSET)
    records = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["shown.event", "failed.event"]
    assert records[0]["a"] == 2 and records[0]["modem"] == "m1"
    assert records[0]["logger"] == "n58aio.test" and records[0]["level"] == "warning"
    assert "RuntimeError: boom" in records[1]["exception"]


@pytest.mark.usefixtures("unconfigured_structlog")
def test_a_structlog_configured_later_gets_the_events() -> None:
    log = get_logger("n58aio", modem="m2").bind(x=1)
    log.info("before.event")  # bound and used while structlog is unconfigured
    with structlog.testing.capture_logs() as logs:
        log.info("routed.event", b=3)
        log.try_unbind("x").warning("unbound.event")
    assert logs == [
        {"event": "routed.event", "modem": "m2", "x": 1, "b": 3, "log_level": "info"},
        {"event": "unbound.event", "modem": "m2", "log_level": "warning"},
    ]


def test_enable_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(n58aio.InvalidValue, match="console"):
        n58aio.enable_logging("xml")  # type: ignore[arg-type]
