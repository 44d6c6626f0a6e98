"""The suite: runs every case in its own subprocess, prints tables, writes JSON.

``python -m benchmarks --quick`` is the CI smoke run (tiny sizes, under a minute, exit status 1
when any case fails); ``python -m benchmarks --full`` gives the figures of
``docs/benchmarks.md``. Ratios compare measurements taken in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .common import (
    REPO_ROOT,
    RESULT_MARK,
    framing_overhead,
    line_capacity,
    payload_capacity,
    subprocess_env,
)
from .helpers import Helper

__all__ = ["FULL", "QUICK", "Profile", "Row", "main"]

MB = 1e6
CHUNK = 1460  # the emulator's (and the module's) recvmode 1 chunk size
EMULATORS_PER_HELPER = 32


@dataclass(frozen=True)
class Profile:
    """Sizes and durations of one run."""

    name: str
    parser_total: int
    parser_repeat: int
    command_seconds: float
    unpaced_size: int
    paced: tuple[tuple[int, int], ...]  # (baud, bytes)
    scaling_baud: int
    scaling_counts: tuple[int, ...]
    scaling_size: int
    memory_sizes: tuple[int, ...]
    verify: bool
    timeout: float


QUICK = Profile(
    name="quick",
    parser_total=200_000,
    parser_repeat=1,
    command_seconds=0.5,
    unpaced_size=20_000_000,
    paced=((115_200, 24_000), (921_600, 200_000)),
    scaling_baud=921_600,
    scaling_counts=(1, 8),
    scaling_size=100_000,
    memory_sizes=(1_000_000, 50_000_000),
    verify=True,
    timeout=60.0,
)
FULL = Profile(
    name="full",
    parser_total=8_000_000,
    parser_repeat=3,
    command_seconds=3.0,
    unpaced_size=200_000_000,
    paced=((115_200, 170_000), (921_600, 1_350_000)),
    scaling_baud=921_600,
    scaling_counts=(1, 8, 32, 64),
    scaling_size=900_000,
    memory_sizes=(1_000_000, 500_000_000),
    verify=False,
    timeout=600.0,
)


@dataclass
class Row:
    """One line of a result table; ``raw`` keeps the worker's numbers for the JSON."""

    group: str
    case: str
    result: str
    reference: str = ""
    ratio: str = ""
    context: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class CaseError(RuntimeError):
    """A worker failed or returned nonsense."""


def run_worker(case: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``benchmarks.clients CASE`` in a fresh interpreter and return its result."""
    argv = [sys.executable, "-m", "benchmarks.clients", case, json.dumps(params)]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=subprocess_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise CaseError(f"{case} timed out after {timeout:.0f} s") from exc
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK) and proc.returncode == 0:
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
    raise CaseError(f"{case} exited {proc.returncode}:\n{tail}")


@contextmanager
def emulators(count: int, baud: int | None = None) -> Iterator[list[Helper]]:
    """Start ``count`` emulators (at most 32 per helper process); yield the helpers."""
    with ExitStack() as stack:
        helpers: list[Helper] = []
        left = count
        while left > 0:
            n = min(left, EMULATORS_PER_HELPER)
            args = ["--count", str(n), "--chunk-size", str(CHUNK)]
            if baud:
                args += ["--baud", str(baud)]
            helpers.append(stack.enter_context(Helper("emulators", *args)))
            left -= n
        yield helpers


def devices(helpers: list[Helper]) -> list[str]:
    """Every device path the helpers serve."""
    return [str(device) for helper in helpers for device in helper.info["devices"]]


def _mb(value: float) -> str:
    return f"{value / MB:,.1f} MB/s" if value >= MB else f"{value / 1e3:,.1f} kB/s"


def _size(value: int) -> str:
    return f"{value / MB:g} MB" if value >= MB else f"{value / 1e3:g} kB"


# ----------------------------------------------------------------------------- the cases


class Suite:
    """Runs the cases of a profile and collects rows and failures."""

    def __init__(self, profile: Profile, origin: str) -> None:
        self.profile = profile
        self.origin = origin
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.timings: dict[str, float] = {}

    def run(self, groups: list[str]) -> None:
        """Run the named groups (all of :data:`GROUPS` by default), failures recorded."""
        for name in groups:
            start = time.perf_counter()
            try:
                GROUPS[name](self)
            except (CaseError, RuntimeError, OSError, ValueError, KeyError) as exc:
                self.failures.append(f"{name}: {exc}")
                print(f"!! {name} failed: {exc}", file=sys.stderr)
            self.timings[name] = time.perf_counter() - start
            print(f"-- {name} done in {self.timings[name]:.1f} s", file=sys.stderr)

    def worker(self, case: str, **params: Any) -> dict[str, Any]:
        """Run one worker with this profile's timeout."""
        return run_worker(case, params, self.profile.timeout)

    def parser(self) -> None:
        """1. Parser MB/s against the find-based reference on the same reads."""
        p = self.profile
        result = self.worker("parser", total=p.parser_total, repeat=p.parser_repeat)
        for r in result["rows"]:
            chunk = f"{r['chunk']} B chunks" if r["chunk"] else "raw"
            self.rows.append(
                Row(
                    "parser",
                    f"{r['mode']}, {chunk}, {r['read'] // 1024} KiB reads",
                    f"{r['parser']:,.0f} MB/s",
                    f"{r['reference']:,.0f} MB/s",
                    f"{r['ratio']:.2f}",
                    f"memcpy {r['copy']:,.0f} MB/s",
                    r,
                )
            )

    def commands(self) -> None:
        """2. ``AT`` round trips per second, n58aio against python-gsmmodem-new."""
        p = self.profile
        with emulators(1) as helpers:
            device = devices(helpers)[0]
            ours = self.worker("n58aio_commands", device=device, seconds=p.command_seconds, warmup=50)
            theirs = self.worker(
                "gsmmodem_commands", device=device, seconds=p.command_seconds, warmup=50
            )
        rate = ours["commands"] / ours["wall"]
        ref = theirs["commands"] / theirs["wall"]
        self.rows.append(
            Row(
                "commands",
                "AT round trips over a pty (gsmmodem: GsmModem.write)",
                f"{rate:,.0f} /s",
                f"{ref:,.0f} /s",
                f"{rate / ref:.2f}",
                f"client CPU per command {1e6 * ours['cpu'] / ours['commands']:.0f} µs"
                f" vs {1e6 * theirs['cpu'] / theirs['commands']:.0f} µs",
                {"n58aio": ours, "gsmmodem": theirs},
            )
        )

    def unpaced(self) -> None:
        """3. Unpaced goodput through emulator + pty against httpx on the same origin."""
        p = self.profile
        size = p.unpaced_size
        with emulators(1) as helpers:
            ours = self.worker(
                "n58aio_download",
                device=devices(helpers)[0],
                origin=self.origin,
                size=size,
                verify=p.verify,
            )
        emulator_cpu = helpers[0].final.get("cpu", math.nan)
        theirs = self.worker("httpx_download", origin=self.origin, size=size, verify=p.verify)
        rate, ref = size / ours["wall"], size / theirs["wall"]
        cpu, ref_cpu = ours["cpu"] / (size / MB), theirs["cpu"] / (size / MB)
        raw = {"n58aio": ours, "httpx": theirs, "emulator_cpu": emulator_cpu}
        self.rows.append(
            Row(
                "unpaced",
                f"{_size(size)} GET, goodput (n58aio vs httpx)",
                _mb(rate),
                _mb(ref),
                f"{rate / ref:.3f}",
                f"client CPU share {ours['cpu'] / ours['wall']:.0%};"
                f" emulator process CPU {emulator_cpu:.1f} s",
                raw,
            )
        )
        self.rows.append(
            Row(
                "unpaced",
                "client CPU per MB (n58aio vs httpx)",
                f"{1e3 * cpu:.2f} ms/MB",
                f"{1e3 * ref_cpu:.2f} ms/MB",
                f"{cpu / ref_cpu:.1f}",
                f"peak RSS {ours['maxrss_mib']:.0f} vs {theirs['maxrss_mib']:.0f} MiB",
                raw,
            )
        )

    def paced(self) -> None:
        """4. Paced goodput as a share of what the line carries after the report framing."""
        p = self.profile
        for baud, size in p.paced:
            with emulators(1, baud) as helpers:
                ours = self.worker(
                    "n58aio_download",
                    device=devices(helpers)[0],
                    origin=self.origin,
                    size=size,
                    verify=p.verify,
                )
            capacity = payload_capacity(baud, CHUNK)
            rate = size / ours["wall"]
            body = size - ours["first_chunk"]  # from the first body chunk on
            body_rate = body / ours["body_wall"] if ours["body_wall"] > 0 else math.nan
            wire_rate = ours["wire_bytes"] / ours["wall"]
            self.rows.append(
                Row(
                    "paced",
                    f"{baud} baud, {_size(size)} GET ({ours['wall']:.1f} s)",
                    f"{rate:,.0f} B/s",
                    f"{capacity:,.0f} B/s",
                    f"{rate / capacity:.1%}",
                    f"body only {body_rate / capacity:.1%};"
                    f" line busy {wire_rate / line_capacity(baud):.1%};"
                    f" client CPU share {ours['cpu'] / ours['wall']:.1%}",
                    {**ours, "baud": baud, "payload_capacity": capacity},
                )
            )

    def scaling(self) -> None:
        """5. N modems downloading at once, paced, all opened by one client process."""
        p = self.profile
        baud = p.scaling_baud
        for count in p.scaling_counts:
            with emulators(count, baud) as helpers:
                ours = self.worker(
                    "n58aio_many",
                    devices=devices(helpers),
                    origin=self.origin,
                    size=p.scaling_size,
                    verify=p.verify,
                )
            emulator_cpu = sum(h.final.get("cpu", math.nan) for h in helpers)
            capacity = count * payload_capacity(baud, CHUNK)
            rate = ours["bytes"] / ours["wall"]
            self.rows.append(
                Row(
                    "scaling",
                    f"{count} modem{'s' if count > 1 else ''} at {baud} baud,"
                    f" {_size(p.scaling_size)} each",
                    _mb(rate),
                    _mb(capacity),
                    f"{rate / capacity:.1%}",
                    f"client CPU share {ours['cpu'] / ours['wall']:.1%};"
                    f" emulators {emulator_cpu / ours['wall']:.0%} of a core",
                    {**ours, "baud": baud, "capacity": capacity, "emulator_cpu": emulator_cpu},
                )
            )

    def memory(self) -> None:
        """6. Peak RSS of the client for a small and a large streamed download."""
        p = self.profile
        peaks: list[float] = []
        for size in p.memory_sizes:
            with emulators(1) as helpers:
                ours = self.worker(
                    "n58aio_download",
                    device=devices(helpers)[0],
                    origin=self.origin,
                    size=size,
                    verify=False,  # the pattern cache would count against the client
                )
            peaks.append(ours["maxrss_mib"])
            self.rows.append(
                Row(
                    "memory",
                    f"{_size(size)} streamed GET, peak RSS",
                    f"{ours['maxrss_mib']:.1f} MiB",
                    f"{peaks[0]:.1f} MiB",
                    f"{ours['maxrss_mib'] / peaks[0]:.2f}",
                    f"before the request {ours['maxrss_before_mib']:.1f} MiB;"
                    f" {_mb(size / ours['wall'])}",
                    ours,
                )
            )


GROUPS: dict[str, Callable[[Suite], None]] = {
    "parser": Suite.parser,
    "commands": Suite.commands,
    "unpaced": Suite.unpaced,
    "paced": Suite.paced,
    "scaling": Suite.scaling,
    "memory": Suite.memory,
}

_HEADERS = {
    "parser": ("parser (sans-IO)", "MB/s of payload", "find-split reference", "ratio"),
    "commands": ("command round trip", "n58aio", "python-gsmmodem-new", "ratio"),
    "unpaced": ("unpaced download", "n58aio", "httpx, same origin", "ratio"),
    "paced": ("paced download", "goodput", "line after framing", "share"),
    "scaling": ("concurrent modems", "aggregate goodput", "line after framing", "share"),
    "memory": ("memory", "peak RSS", "1 MB download", "ratio"),
}


# ----------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    """nproc, CPU model, Python, kernel and the versions of the packages involved."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("n58aio", "h11", "httpx", "pyserial", "pyserial-asyncio", "python-gsmmodem-new"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "packages": versions,
    }


def format_tables(rows: list[Row]) -> str:
    """Markdown tables, one per group, in the order the groups ran."""
    out: list[str] = []
    for group, header in _HEADERS.items():
        mine = [row for row in rows if row.group == group]
        if not mine:
            continue
        out.append(f"| {' | '.join(header)} | context |")
        out.append("|" + "---|" * (len(header) + 1))
        for row in mine:
            cells = (row.case, row.result, row.reference, row.ratio, row.context)
            out.append(f"| {' | '.join(cells)} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CI smoke run: tiny sizes, < 60 s")
    mode.add_argument("--full", action="store_true", help="the figures (default)")
    parser.add_argument(
        "--json",
        type=Path,
        default=REPO_ROOT / "benchmarks" / "results" / "latest.json",
        metavar="PATH",
        help="where to write the results (default: benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(GROUPS),
        metavar="GROUP",
        help=f"run only this group (repeatable): {', '.join(GROUPS)}",
    )
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    groups = args.only or list(GROUPS)
    started = time.time()
    with Helper("origin") as origin:
        suite = Suite(profile, origin.info["url"])
        suite.run(groups)
    duration = time.time() - started
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\n{profile.name} run, {duration:.0f} s: {command.strip()}\n")
    print(format_tables(suite.rows))
    report = {
        "profile": asdict(profile),
        "command": command.strip(),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration": duration,
        "timings": suite.timings,
        "failures": suite.failures,
        "rows": [asdict(row) for row in suite.rows],
        "framing_overhead": {"chunk": CHUNK, "bytes": framing_overhead(CHUNK)},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {args.json}")
    if suite.failures:
        print(f"{len(suite.failures)} failure(s):", *suite.failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0
