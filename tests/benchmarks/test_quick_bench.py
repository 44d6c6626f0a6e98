"""The benchmark suite's building blocks still work (tiny data; no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.common import framing_overhead, line_capacity, payload_capacity
from benchmarks.decoder_bench import decoder_benchmark
from benchmarks.parser_bench import (
    mode0_stream,
    mode1_stream,
    parser_benchmark,
    reads,
    run_copy,
    run_parser,
    run_reference,
)
from benchmarks.runner import Row, format_tables, main, run_worker


def test_parser_benchmark_returns_sane_numbers() -> None:
    rows = parser_benchmark(20_000, chunks=(64, 1024), read_sizes=(4096, 65536), repeat=1)
    assert [(row["mode"], row["chunk"], row["read"]) for row in rows] == [
        ("recvmode1", 64, 4096),
        ("recvmode1", 64, 65536),
        ("recvmode1", 1024, 4096),
        ("recvmode1", 1024, 65536),
        ("recvmode0", None, 4096),
        ("recvmode0", None, 65536),
    ]
    for row in rows:
        assert row["payload"] == 20_000
        assert row["wire"] > 20_000
        for key in ("parser", "reference", "copy"):
            assert math.isfinite(row[key])
            assert row[key] > 0
        assert row["ratio"] == pytest.approx(row["parser"] / row["reference"])


@pytest.mark.parametrize("read_size", [1, 7, 100, 4096])
def test_parser_and_reference_count_the_same_payload(read_size: int) -> None:
    streams = [
        (mode1_stream(100, 1_000), 1_000),
        (mode1_stream(1460, 5_000), 5_000),
        (mode0_stream(3_000), 3_000),
    ]
    for stream, expected in streams:
        pieces = reads(stream, read_size)
        assert run_parser(pieces) == expected
        assert run_reference(pieces) == expected
        assert run_copy(pieces) == len(stream)


def test_line_arithmetic() -> None:
    assert framing_overhead(1460) == len(b"\r\n+HTTPRECV: 1460,") + len(b"\r\n") == 20
    assert line_capacity(115_200) == 11_520
    assert payload_capacity(921_600, 1460) == pytest.approx(92_160 * 1460 / 1480)


def test_parser_case_runs_in_a_worker_process() -> None:
    result = run_worker("parser", {"total": 2_000, "repeat": 1}, timeout=60)
    assert len(result["rows"]) == 8
    assert result["cpu"] >= 0
    assert result["maxrss_mib"] > 0
    table = format_tables([Row("parser", "case", "1 MB/s", "2 MB/s", "0.50")])
    assert "| case | 1 MB/s | 2 MB/s | 0.50 |" in table


def test_decoder_benchmark_returns_sane_numbers() -> None:
    rows = decoder_benchmark(("1,000 tiny", "8 GiB"), memory=False)
    assert [row["outcome"] for row in rows] == ["decoded", "DecompressionLimitError"]
    tiny, padding = rows
    assert tiny["decoded"] == len(b"".join(b"member %d;" % i for i in range(1000)))
    assert padding["decoded"] == 5
    for row in rows:
        assert 0 < row["longest_step_work"] < row["work"] <= 3_000_000  # type: ignore[operator]
        assert row["steps"] > 1  # type: ignore[operator]


def test_mux_capacity_counts_report_and_frame_overhead() -> None:
    from benchmarks.bench_mux import mux_capacity

    # 1460 bytes + "\r\n+HTTPRECV: 1460," + "\r\n" = 1480 bytes: frames of 512, 512, 456
    report = 1460 + framing_overhead(1460)
    assert report == 1480
    assert mux_capacity(921_600, 1460, 512) == pytest.approx(
        line_capacity(921_600) * 1460 / (report + 3 * 7)
    )
    assert mux_capacity(921_600, 1460, 100) == pytest.approx(
        line_capacity(921_600) * 1460 / (report + 15 * 6)
    )
    assert mux_capacity(921_600) < payload_capacity(921_600, 1460)


def test_a_failing_case_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the compare group without --compare is a case that fails: the run goes on, records it
    # in the JSON and exits 1, as CI needs
    report = tmp_path / "quick.json"
    assert main(["--quick", "--only", "compare", "--json", str(report)]) == 1
    result = json.loads(report.read_text())
    assert result["profile"]["name"] == "quick"
    assert result["failures"] == ["compare: the compare group needs --compare DIR"]
    assert "1 failure(s)" in capsys.readouterr().err


def test_inprocess_measure_runs_every_path() -> None:
    from benchmarks.inprocess import measure

    figures = measure(body=100_000, commands=50)
    assert set(figures) == {
        "round_trip_us",
        "modem_round_trip_us",
        "payload_ms_per_mb",
        "delivery_us",
        "bare_asyncio_us",
    }
    for value in figures.values():
        assert math.isfinite(value)
        assert value > 0
