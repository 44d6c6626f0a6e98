"""The suite: runs every case in its own subprocess, prints tables, writes JSON.

``python -m benchmarks --quick`` is the CI smoke run (tiny sizes, under 30 s, exit status 1
when any case fails); ``python -m benchmarks --full`` gives the figures of
``docs/benchmarks.md``. Ratios compare measurements taken in the same run.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import os
import platform
import statistics
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
    repeats: int
    compare_size: int
    compare_modems: int
    verify: bool
    timeout: float
    compression_baud: int = 115_200
    compression_json: int = 1_000_000  # the JSON document, served gzip
    compression_plain: int = 170_000  # identity and incompressible cases
    top_baud: int = 2_166_666  # the N58's fastest UART rate (AT+IPR, v2.0 manual ch04)
    top_counts: tuple[int, ...] = (1, 8, 32, 64)
    top_size: int = 1_500_000
    nginx_paced: tuple[int, int] = (921_600, 1_350_000)
    switched: tuple[int, int, int] = (115_200, 921_600, 1_350_000)  # opened at, switched to, bytes


# A smoke run (under 30 s): every group and case runs, with paced transfers of about half a
# second each; the figures are not meant to be read. Most of the time left is the start of the
# worker and emulator interpreters.
QUICK = Profile(
    name="quick",
    parser_total=100_000,
    parser_repeat=1,
    command_seconds=0.2,
    unpaced_size=4_000_000,
    paced=((115_200, 5_000), (921_600, 40_000)),
    scaling_baud=921_600,
    scaling_counts=(1, 8),
    scaling_size=20_000,
    memory_sizes=(1_000_000, 10_000_000),
    repeats=1,
    compare_size=2_000_000,
    compare_modems=8,
    verify=True,
    timeout=60.0,
    compression_json=30_000,
    compression_plain=5_000,
    top_counts=(1, 8),
    top_size=50_000,
    nginx_paced=(921_600, 40_000),
    switched=(115_200, 921_600, 40_000),
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
    repeats=3,
    compare_size=50_000_000,
    compare_modems=64,
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


def run_worker(
    case: str, params: dict[str, Any], timeout: float, client_path: str | None = None
) -> dict[str, Any]:
    """Run ``benchmarks.clients CASE`` in a fresh interpreter and return its result;
    ``client_path`` goes first on its ``PYTHONPATH`` (another ``n58aio`` tree to measure)."""
    argv = [sys.executable, "-m", "benchmarks.clients", case, json.dumps(params)]
    env = subprocess_env(client_path)
    cwd = client_path or REPO_ROOT  # ``-m`` puts the working directory first on sys.path
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
        )
    except subprocess.TimeoutExpired as exc:
        raise CaseError(f"{case} timed out after {timeout:.0f} s") from exc
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK) and proc.returncode == 0:
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
    raise CaseError(f"{case} exited {proc.returncode}:\n{tail}")


def _offer() -> dict[str, str]:
    """The ``Accept-Encoding`` header of ``plan_request(compress=True)``."""
    from n58aio.http.encoding import accept_encoding

    return {"Accept-Encoding": accept_encoding()}


def nginx_missing() -> bool:
    """True when no nginx binary is found (the nginx group is then reported, not run)."""
    from n58aio.emulator.nginx import find_nginx

    return find_nginx() is None


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


def _median_run(
    runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]
) -> dict[str, Any]:
    """The run with the median ``key`` (the lower one of an even count)."""
    return sorted(runs, key=key)[(len(runs) - 1) // 2]


def _cpu(run: dict[str, Any]) -> float:
    return float(run["cpu"])


def _command_rate(run: dict[str, Any]) -> float:
    return float(run["commands"]) / float(run["wall"])


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

    def __init__(self, profile: Profile, origin: str, other: str | None = None) -> None:
        self.profile = profile
        self.origin = origin
        self.other = other
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

    def worker(self, case: str, client_path: str | None = None, /, **params: Any) -> dict[str, Any]:
        """Run one worker with this profile's timeout (``client_path``: see :func:`run_worker`)."""
        return run_worker(case, params, self.profile.timeout, client_path)

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
        have_gsmmodem = importlib.util.find_spec("gsmmodem") is not None
        ours_runs: list[dict[str, Any]] = []
        theirs_runs: list[dict[str, Any]] = []
        with emulators(1) as helpers:
            device = devices(helpers)[0]
            params = {"device": device, "seconds": p.command_seconds, "warmup": 50}
            for _ in range(p.repeats):  # in turns, so that load drifts hit both alike
                ours_runs.append(self.worker("n58aio_commands", **params))
                if have_gsmmodem:
                    theirs_runs.append(self.worker("gsmmodem_commands", **params))
        ours = _median_run(ours_runs, _command_rate)
        theirs = _median_run(theirs_runs, _command_rate) if theirs_runs else None
        rate = ours["commands"] / ours["wall"]
        ours_cpu = f"client CPU per command {1e6 * ours['cpu'] / ours['commands']:.0f} µs"
        if theirs is None:
            print("python-gsmmodem-new is missing: pip install -e '.[bench]'", file=sys.stderr)
            self.rows.append(
                Row(
                    "commands",
                    "AT round trips over a pty",
                    f"{rate:,.0f} /s",
                    "not installed",
                    "",
                    ours_cpu,
                    {"n58aio": ours},
                )
            )
            return
        ref = theirs["commands"] / theirs["wall"]
        self.rows.append(
            Row(
                "commands",
                "AT round trips over a pty (gsmmodem: GsmModem.write)",
                f"{rate:,.0f} /s",
                f"{ref:,.0f} /s",
                f"{rate / ref:.2f}",
                f"{ours_cpu} vs {1e6 * theirs['cpu'] / theirs['commands']:.0f} µs",
                {"n58aio": ours, "gsmmodem": theirs},
            )
        )

    def unpaced(self) -> None:
        """3. Unpaced goodput through emulator + pty against httpx on the same origin, plus
        recvmode 0 and the bare pty read loop (the floor of any client reading a pty)."""
        p = self.profile
        size = p.unpaced_size
        cases: tuple[tuple[str, str, dict[str, Any]], ...] = (
            ("mode1", "n58aio_download", {"recvmode": 1}),
            ("mode0", "n58aio_download", {"recvmode": 0}),
            ("floor", "pty_floor", {}),
        )
        every: dict[str, list[dict[str, Any]]] = {
            name: [] for name in ("mode1", "mode0", "floor", "httpx")
        }
        for _ in range(p.repeats):  # in turns, so that a drifting load hits every case alike
            for name, case, extra in cases:
                with emulators(1) as helpers:
                    run = self.worker(
                        case,
                        device=devices(helpers)[0],
                        origin=self.origin,
                        size=size,
                        verify=p.verify,
                        **extra,
                    )
                run["emulator_cpu"] = helpers[0].final.get("cpu", math.nan)
                every[name].append(run)
            every["httpx"].append(
                self.worker("httpx_download", origin=self.origin, size=size, verify=p.verify)
            )
        runs = {name: _median_run(all_runs, _cpu) for name, all_runs in every.items()}
        rate = {name: size / run["wall"] for name, run in runs.items()}
        cpu = {name: 1e3 * run["cpu"] / (size / MB) for name, run in runs.items()}
        ours, theirs = runs["mode1"], runs["httpx"]
        self.rows += [
            Row(
                "unpaced",
                f"{_size(size)} GET goodput, recvmode 1",
                _mb(rate["mode1"]),
                _mb(rate["httpx"]),
                f"{rate['mode1'] / rate['httpx']:.3f}",
                f"client CPU share {ours['cpu'] / ours['wall']:.0%};"
                f" emulator process CPU {ours['emulator_cpu']:.1f} s",
                runs,
            ),
            Row(
                "unpaced",
                "client CPU per MB, recvmode 1",
                f"{cpu['mode1']:.2f} ms/MB",
                f"{cpu['httpx']:.2f} ms/MB",
                f"{cpu['mode1'] / cpu['httpx']:.1f}",
                f"peak RSS {ours['maxrss_mib']:.0f} vs {theirs['maxrss_mib']:.0f} MiB",
            ),
            Row(
                "unpaced",
                f"{_size(size)} GET goodput, recvmode 0",
                _mb(rate["mode0"]),
                _mb(rate["httpx"]),
                f"{rate['mode0'] / rate['httpx']:.3f}",
                f"client CPU {cpu['mode0']:.2f} ms/MB ({cpu['mode0'] / cpu['httpx']:.1f} x httpx)",
            ),
            Row(
                "unpaced",
                "client CPU per MB, recvmode 1, against a bare pty read loop",
                f"{cpu['mode1']:.2f} ms/MB",
                f"{cpu['floor']:.2f} ms/MB",
                f"{cpu['mode1'] / cpu['floor']:.1f}",
                f"the loop (select + os.read, no parsing) alone is"
                f" {cpu['floor'] / cpu['httpx']:.1f} x httpx; {_mb(rate['floor'])}",
            ),
        ]

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

    def switched(self) -> None:
        """4b. Paced goodput after switching the line: the module boots at the opening rate,
        ``open_modem(baudrate=)`` switches it (``AT+IPR``, pacing follows) and the port; then
        one GET, against what the line carries at the new rate."""
        p = self.profile
        opened, baud, size = p.switched
        with emulators(1, opened) as helpers:
            ours = self.worker(
                "n58aio_download",
                device=devices(helpers)[0],
                origin=self.origin,
                size=size,
                verify=p.verify,
                baudrate=baud,
            )
        if ours["line_rate"] != baud:
            raise CaseError(f"the line runs at {ours['line_rate']}, not {baud}")
        capacity = payload_capacity(baud, CHUNK)
        rate = size / ours["wall"]
        wire_rate = ours["wire_bytes"] / ours["wall"]
        self.rows.append(
            Row(
                "switched",
                f"opened at {opened}, switched to {baud} baud, {_size(size)} GET"
                f" ({ours['wall']:.1f} s)",
                f"{rate:,.0f} B/s",
                f"{capacity:,.0f} B/s",
                f"{rate / capacity:.1%}",
                f"line busy {wire_rate / line_capacity(baud):.1%};"
                f" client CPU share {ours['cpu'] / ours['wall']:.1%}",
                {**ours, "baud": baud, "opened": opened, "payload_capacity": capacity},
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

    def _paced_get(
        self, baud: int, origin: str, size: int, **extra: Any
    ) -> tuple[dict[str, Any], float]:
        """One paced download; its result and the line's payload capacity."""
        with emulators(1, baud) as helpers:
            run = self.worker(
                "n58aio_download",
                device=devices(helpers)[0],
                origin=origin,
                size=size,
                verify=self.profile.verify,
                **extra,
            )
        return run, payload_capacity(baud, CHUNK)

    def _json_row(self, group: str, label: str, baud: int, origin: str) -> None:
        size = self.profile.compression_json
        run, capacity = self._paced_get(
            baud, origin, size, path=f"/json/{size}", json=True, headers=_offer()
        )
        if run["content_encoding"] != "gzip":
            raise CaseError(f"{label}: answered with Content-Encoding {run['content_encoding']}")
        rate = run["bytes"] / run["wall"]
        self.rows.append(
            Row(
                group,
                f"{label}: {_size(run['bytes'])} JSON served gzip, {baud} baud"
                f" ({run['wall']:.1f} s)",
                f"{rate:,.0f} B/s decoded",
                f"{capacity:,.0f} B/s",
                f"{rate / capacity:.2f} x",
                f"{run['body_wire_bytes']:,} bytes on the wire"
                f" (x {run['bytes'] / run['body_wire_bytes']:.2f});"
                f" client CPU share {run['cpu'] / run['wall']:.1%}",
                {**run, "baud": baud, "payload_capacity": capacity},
            )
        )

    def _share_row(
        self, group: str, label: str, baud: int, origin: str, size: int, **extra: Any
    ) -> None:
        run, capacity = self._paced_get(baud, origin, size, **extra)
        rate = run["bytes"] / run["wall"]
        self.rows.append(
            Row(
                group,
                f"{label}, {baud} baud, {_size(run['bytes'])} ({run['wall']:.1f} s)",
                f"{rate:,.0f} B/s",
                f"{capacity:,.0f} B/s",
                f"{rate / capacity:.1%}",
                f"Content-Encoding {run['content_encoding'] or 'none'};"
                f" client CPU share {run['cpu'] / run['wall']:.1%}",
                {**run, "baud": baud, "payload_capacity": capacity},
            )
        )

    def compression(self) -> None:
        """7. Compressed responses on a paced line: decoded bytes/s of a gzip JSON document
        as a multiple of the line's payload capacity; the same document and incompressible
        bytes as shares of it."""
        p = self.profile
        baud, plain = p.compression_baud, p.compression_plain
        self._json_row("compression", "gzip offered", baud, self.origin)
        self._share_row(
            "compression",
            "same JSON, Accept-Encoding: identity",
            baud,
            self.origin,
            plain,
            path=f"/json/{plain}",
            json=True,
            headers={"Accept-Encoding": "identity"},
        )
        self._share_row(
            "compression",
            "incompressible bytes, gzip offered (identity answer)",
            baud,
            self.origin,
            plain,
            headers=_offer(),
        )

    def nginx(self) -> None:
        """8. nginx (Debian's, its own config) as the origin: paced GET, gzip JSON, unpaced
        CPU per MB against the same download from OriginServer."""
        p = self.profile
        if nginx_missing():
            if os.environ.get("CI", "").lower() == "true":
                raise CaseError("nginx is missing in CI (.ci/run installs nginx-light)")
            print("nginx is missing: apt-get install nginx-light", file=sys.stderr)
            self.rows.append(Row("nginx", "nginx as the origin", "not installed"))
            return
        baud, size = p.nginx_paced
        paths = [
            f"/bytes/{size}",
            f"/json/{p.compression_json}",
            f"/bytes/{p.unpaced_size // 4}",
        ]
        with Helper("nginx", *paths) as nginx:
            url = nginx.info["url"]
            self._share_row("nginx", "nginx, GET", baud, url, size)
            self._json_row("nginx", "nginx, gzip offered", p.compression_baud, url)
            unpaced = p.unpaced_size // 4
            costs: dict[str, list[float]] = {"nginx": [], "origin": []}
            for _ in range(p.repeats):
                for name, origin in (("nginx", url), ("origin", self.origin)):
                    with emulators(1) as helpers:
                        run = self.worker(
                            "n58aio_download",
                            device=devices(helpers)[0],
                            origin=origin,
                            size=unpaced,
                            verify=p.verify,
                        )
                    costs[name].append(1e3 * run["cpu"] / (unpaced / MB))
        ours, theirs = statistics.median(costs["nginx"]), statistics.median(costs["origin"])
        self.rows.append(
            Row(
                "nginx",
                f"unpaced {_size(unpaced)} GET, client CPU per MB: nginx against OriginServer",
                f"{ours:.2f} ms/MB",
                f"{theirs:.2f} ms/MB",
                f"{ours / theirs:.2f}",
                f"nginx CPU {nginx.final.get('cpu', math.nan):.2f} s for the group",
            )
        )

    def top(self) -> None:
        """9. The module's top rate, 2,166,666 baud, 1 to 64 modems, each count with its paced
        floor (one select + os.read loop over the same ptys, nothing parsed) in turns."""
        p = self.profile
        baud = p.top_baud
        for count in p.top_counts:
            with emulators(count, baud) as helpers:
                params = {"devices": devices(helpers), "origin": self.origin, "size": p.top_size}
                ours_runs: list[dict[str, Any]] = []
                floor_runs: list[dict[str, Any]] = []
                for _ in range(max(1, p.repeats - 1)):
                    ours_runs.append(self.worker("n58aio_many", verify=p.verify, **params))
                    floor_runs.append(self.worker("pty_floor_many", **params))
            emulator_cpu = sum(h.final.get("cpu", math.nan) for h in helpers)
            busy = sum(run["wall"] for run in ours_runs + floor_runs)
            ours = _median_run(ours_runs, _cpu)
            floor = _median_run(floor_runs, _cpu)
            capacity = count * payload_capacity(baud, CHUNK)
            rate = ours["bytes"] / ours["wall"]
            floor_rate = floor["bytes"] / floor["wall"]
            share, floor_share = ours["cpu"] / ours["wall"], floor["cpu"] / floor["wall"]
            self.rows.append(
                Row(
                    "top",
                    f"{count} modem{'s' if count > 1 else ''} at {baud} baud,"
                    f" {_size(p.top_size)} each",
                    _mb(rate),
                    _mb(capacity),
                    f"{rate / capacity:.1%}",
                    f"client CPU share {share:.1%}, paced floor {floor_share:.1%}"
                    f" (x {share / floor_share:.2f}); floor line share"
                    f" {floor_rate / capacity:.1%}; emulators about"
                    f" {emulator_cpu / busy:.0%} of a core",
                    {
                        "n58aio": ours,
                        "floor": floor,
                        "baud": baud,
                        "capacity": capacity,
                        "emulator_cpu": emulator_cpu,
                    },
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

    def _alternate(
        self, measure: Callable[[str | None], dict[str, float]]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Medians of ``measure`` with this tree's n58aio and with the other one, run in turns
        (this, other, this, other...) so that a drifting machine load hits both alike."""
        runs: tuple[list[dict[str, float]], list[dict[str, float]]] = ([], [])
        for _ in range(self.profile.repeats):
            runs[0].append(measure(None))
            runs[1].append(measure(self.other))
        medians = tuple(
            {key: statistics.median(run[key] for run in side) for key in side[0]} for side in runs
        )
        return medians[0], medians[1]

    def compare(self) -> None:
        """Before/after: the client cases with this tree's n58aio and the one of ``--compare``."""
        if self.other is None:
            raise CaseError("the compare group needs --compare DIR")
        p = self.profile
        ours, theirs = self._alternate(self._parser_rates)
        for key in ours:
            label = f"{key} B chunks" if key != "raw" else "recvmode 0"
            self.rows.append(
                Row(
                    "compare",
                    f"parser, {label}, 4 KiB reads",
                    f"{ours[key]:,.0f} MB/s",
                    f"{theirs[key]:,.0f} MB/s",
                    f"{ours[key] / theirs[key]:.2f}",
                )
            )
        with emulators(1) as helpers:
            measure = functools.partial(self._command_cost, devices(helpers)[0])
            ours, theirs = self._alternate(measure)
        self.rows.append(
            Row(
                "compare",
                "AT round trip over a pty: client CPU per command",
                f"{ours['cpu']:.0f} µs",
                f"{theirs['cpu']:.0f} µs",
                f"{ours['cpu'] / theirs['cpu']:.2f}",
                f"{ours['rate']:,.0f} vs {theirs['rate']:,.0f} round trips/s",
            )
        )
        size = p.compare_size
        for mode in (1, 0):
            with emulators(1) as helpers:
                measure = functools.partial(self._download_cost, devices(helpers)[0], mode)
                ours, theirs = self._alternate(measure)
            self.rows.append(
                Row(
                    "compare",
                    f"{_size(size)} unpaced GET, recvmode {mode}: client CPU per MB",
                    f"{ours['cpu']:.2f} ms/MB",
                    f"{theirs['cpu']:.2f} ms/MB",
                    f"{ours['cpu'] / theirs['cpu']:.2f}",
                    f"goodput {_mb(ours['rate'])} vs {_mb(theirs['rate'])}",
                )
            )
        count = p.compare_modems
        for baud in (p.scaling_baud, p.top_baud):
            with emulators(count, baud) as helpers:
                measure = functools.partial(self._many_cost, devices(helpers), baud)
                ours, theirs = self._alternate(measure)
            self.rows.append(
                Row(
                    "compare",
                    f"{count} modems at {baud} baud: client CPU share",
                    f"{ours['cpu']:.1%}",
                    f"{theirs['cpu']:.1%}",
                    f"{ours['cpu'] / theirs['cpu']:.2f}",
                    f"line share {ours['share']:.1%} vs {theirs['share']:.1%}",
                )
            )

    def _parser_rates(self, path: str | None) -> dict[str, float]:
        p = self.profile
        total = max(p.parser_total // 4, 100_000)
        result = self.worker("parser", path, total=total, repeat=p.parser_repeat)
        return {f"{r['chunk'] or 'raw'}": r["parser"] for r in result["rows"] if r["read"] == 4096}

    def _command_cost(self, device: str, path: str | None) -> dict[str, float]:
        seconds = self.profile.command_seconds
        run = self.worker("n58aio_commands", path, device=device, seconds=seconds, warmup=50)
        return {"cpu": 1e6 * run["cpu"] / run["commands"], "rate": run["commands"] / run["wall"]}

    def _download_cost(self, device: str, mode: int, path: str | None) -> dict[str, float]:
        size = self.profile.compare_size
        run = self.worker(
            "n58aio_download",
            path,
            device=device,
            origin=self.origin,
            size=size,
            verify=False,
            recvmode=mode,
        )
        return {"cpu": 1e3 * run["cpu"] / (size / MB), "rate": size / run["wall"]}

    def _many_cost(self, device_list: list[str], baud: int, path: str | None) -> dict[str, float]:
        p = self.profile
        run = self.worker(
            "n58aio_many",
            path,
            devices=device_list,
            origin=self.origin,
            size=p.scaling_size // 3 * baud // p.scaling_baud,  # about the same time per run
            verify=False,
        )
        capacity = len(device_list) * payload_capacity(baud, CHUNK)
        return {"cpu": run["cpu"] / run["wall"], "share": run["bytes"] / run["wall"] / capacity}


GROUPS: dict[str, Callable[[Suite], None]] = {
    "parser": Suite.parser,
    "commands": Suite.commands,
    "unpaced": Suite.unpaced,
    "paced": Suite.paced,
    "switched": Suite.switched,
    "scaling": Suite.scaling,
    "memory": Suite.memory,
    "compression": Suite.compression,
    "nginx": Suite.nginx,
    "top": Suite.top,
    "compare": Suite.compare,
}

_HEADERS = {
    "parser": ("parser (sans-IO)", "MB/s of payload", "find-split reference", "ratio"),
    "commands": ("command round trip", "n58aio", "python-gsmmodem-new", "ratio"),
    "unpaced": ("unpaced download", "n58aio", "httpx, same origin", "ratio"),
    "paced": ("paced download", "goodput", "line after framing", "share"),
    "switched": ("paced download after AT+IPR", "goodput", "line at the new rate", "share"),
    "scaling": ("concurrent modems", "aggregate goodput", "line after framing", "share"),
    "memory": ("memory", "peak RSS", "1 MB download", "ratio"),
    "compression": ("compressed responses", "goodput", "line after framing", "of the line"),
    "nginx": ("nginx origin", "n58aio", "reference", "ratio"),
    "top": ("top line rate", "aggregate goodput", "line after framing", "share"),
    "compare": ("before/after", "this tree", "--compare tree", "ratio"),
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


def pty_intruders() -> list[str]:
    """Running ``ser2net`` processes: configured with an earlier emulator's ``/dev/pts/N``, one
    opens whatever pty gets that number next when a client connects, and takes its bytes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == "ser2net":
            found.append(f"{entry.name}: {b' '.join(argv).decode(errors='replace').strip()}")
    return found


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
    mode.add_argument("--quick", action="store_true", help="CI smoke run: tiny sizes, under 30 s")
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
    parser.add_argument(
        "--compare",
        metavar="DIR",
        help="also run the 'compare' group: client cases with this tree's n58aio and with the"
        " n58aio/ package in DIR (e.g. an older commit's), in turns",
    )
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    groups = args.only or [g for g in GROUPS if g != "compare" or args.compare]
    for intruder in pty_intruders():
        print(f"warning: ser2net may open the emulators' ptys: pid {intruder}", file=sys.stderr)
    started = time.time()
    load_before = os.getloadavg()
    with Helper("origin") as origin:
        suite = Suite(profile, origin.info["url"], args.compare)
        suite.run(groups)
    duration = time.time() - started
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    load = {"start": load_before, "end": os.getloadavg()}
    print(f"\n{profile.name} run, {duration:.0f} s: {command.strip()}")
    print(f"load average (1/5/15 min) at start {load['start']}, at end {load['end']}")
    if profile.verify:
        print("downloads checked byte for byte against the pattern: CPU figures include that")
    if args.compare:
        print(f"before/after: this tree against the n58aio of {args.compare}")
    print()
    print(format_tables(suite.rows))
    report = {
        "profile": asdict(profile),
        "command": command.strip(),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "compare": args.compare,
        "duration": duration,
        "load_average": load,
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
