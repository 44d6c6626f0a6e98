"""Shared pieces: resource snapshots, the worker result protocol, line arithmetic."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

__all__ = [
    "REPO_ROOT",
    "RESULT_MARK",
    "Usage",
    "emit_result",
    "framing_overhead",
    "line_capacity",
    "payload_capacity",
    "quiet_logging",
    "subprocess_env",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "BENCH-RESULT "
"""Prefix of the stdout line that carries a worker's JSON result."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Wall clock, this process's CPU time (all threads) and its peak RSS at one instant."""

    wall: float
    cpu: float
    maxrss_kib: int

    @classmethod
    def now(cls) -> Usage:
        """Snapshot from ``time.perf_counter`` and ``getrusage(RUSAGE_SELF)``."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.perf_counter(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss)

    def since(self, start: Usage) -> dict[str, float]:
        """Deltas from ``start``: ``wall`` and ``cpu`` seconds, peak RSS in MiB."""
        return {
            "wall": self.wall - start.wall,
            "cpu": self.cpu - start.cpu,
            "maxrss_mib": self.maxrss_kib / 1024,
            "maxrss_before_mib": start.maxrss_kib / 1024,
        }


def quiet_logging() -> None:
    """Send structlog to stderr at WARNING (the default prints every debug line to stdout)."""
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def emit_result(result: dict[str, Any]) -> None:
    """Print a worker's result as the ``BENCH-RESULT {json}`` line on stdout."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def subprocess_env(first: str | None = None) -> dict[str, str]:
    """Environment for helper and worker processes: the repository on ``PYTHONPATH``, after
    ``first`` when given (a directory holding another ``n58aio`` tree to measure)."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    entries = [entry for entry in (first, str(REPO_ROOT), path) if entry]
    env["PYTHONPATH"] = os.pathsep.join(entries)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def framing_overhead(chunk: int, report: str = "+HTTPRECV") -> int:
    """Bytes the module adds around a ``chunk``-byte recvmode 1 report:
    ``\\r\\n+HTTPRECV: <len>,`` before the data and ``\\r\\n`` after it."""
    return len(f"\r\n{report}: {chunk},") + 2


def line_capacity(baud: int) -> float:
    """Bytes per second a UART line carries at ``baud`` (8N1: 10 bits per byte)."""
    return baud / 10


def payload_capacity(baud: int, chunk: int) -> float:
    """Payload bytes per second the line carries once every chunk is framed as a report."""
    return line_capacity(baud) * chunk / (chunk + framing_overhead(chunk))
