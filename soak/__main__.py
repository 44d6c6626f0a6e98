"""``python -m soak``: requests across several emulated modems with random faults.

Each modem runs a worker that sends random requests (GET of various sizes and framings,
ranged GET, HEAD, POST bodies full of bytes that look like modem output and commands, custom
methods, HTTPS) in random receive modes, and between them commands with distinctive replies
(``ATI``, ``AT+CGSN``, ``AT+CSQ``) that catch a desync. With probability ``--fault-rate`` a
request gets one fault of the emulator (bytes dropped or garbled, a stall, reports injected,
the link closed, a module reset, the port gone) at a random phase and offset.

Every body is compared with what the origin sent, every upload that reached the origin with
what was sent; a request that outlives its bound is a hang. At the end every modem and
emulator is closed and no task or descriptor may remain. The summary lists requests, faults
injected and survived, bytes compared and errors by type; the exit status is 1 when a wrong
byte, a hang, a desync or a leak was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

import n58aio
from n58aio import Timeouts, TLSConfig
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

TIMEOUTS = Timeouts(connect=5.0, first_byte=3.0, idle=3.0)
SLACK = 0.3
DATA_TIMEOUT = 2.0  # the emulated modules' data-phase timeout (30 s on a real N58)
REQUEST_BOUND = 40.0  # a request (with its cleanup and the next check) that takes longer hung
FAULTS = ("drop", "garble", "stall", "inject", "link_closed", "reset", "port_gone")
NOISE = (b"\r\n+CREG: 1\r\n", b"\r\nRING\r\n", b"\r\n+CSQ: 20,99\r\n\r\n+CEREG: 5\r\n")
NASTY = (
    b"\r\nOK\r\n",
    b"\r\n+HTTPRECV: 5,EVIL!\r\n",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    b"AT+XIIC=0\r\n",
    b"\x1a",
    b"\x1b",
    b"\x00",
    b"\r\n>",
    b"+CME ERROR: 3",
)


@dataclass
class Stats:
    """What the soak saw."""

    requests: int = 0
    ok: int = 0
    checks: int = 0
    bytes_compared: int = 0
    faults_armed: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    faults_survived: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wrong_bytes: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    desyncs: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    modems_replaced: int = 0
    by_mode: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> bool:
        return bool(self.wrong_bytes or self.hangs or self.desyncs or self.leaks)


@dataclass
class Plan:
    """One request: what to send and what must come back."""

    label: str
    method: str
    url: str
    options: dict[str, Any]
    expected: bytes | None  # the exact body (None: checked another way)
    upload: tuple[str, bytes] | None = None  # (name, body) of a POST /upload
    https: bool = False
    commands: tuple[str, ...] = ()  # command prefixes of the request, for command faults
    body_size: int = 0  # server bytes of the response, for body faults
    close_delimited: bool = False  # the body ends where the link closes (no length)


class Slot:
    """One emulator and its modem; replaced when the port is gone."""

    def __init__(self, index: int, fs_root: Path, resolve: dict[str, str]) -> None:
        self.index = index
        self.fs_root = fs_root
        self.resolve = resolve
        self.emu: Emulator | None = None
        self.modem: n58aio.Modem | None = None
        self._context: contextlib.AbstractAsyncContextManager[n58aio.Modem] | None = None
        self.imei = ""

    async def open(self) -> None:
        config = EmulatorConfig(
            fs_root=self.fs_root, resolve=self.resolve, data_timeout=DATA_TIMEOUT
        )
        self.emu = Emulator(config)
        await self.emu.start()
        self._context = n58aio.open_modem(
            self.emu.device, name=f"soak{self.index}", timeout_slack=SLACK, timeouts=TIMEOUTS
        )
        self.modem = await self._context.__aenter__()
        self.modem.channel.module_data_timeout = DATA_TIMEOUT
        await self.modem.attach()
        reply = await self.modem.command("AT+CGSN")
        self.imei = reply.lines[0]

    async def close(self) -> None:
        if self._context is not None:
            await self._context.__aexit__(None, None, None)
            self._context = None
        if self.emu is not None:
            await self.emu.close()
            self.emu = None
        self.modem = None


class Worker:
    """Sends requests on one slot until the deadline."""

    def __init__(
        self,
        slot: Slot,
        origin: OriginServer,
        tls_origin: OriginServer,
        stats: Stats,
        rng: random.Random,
        fault_rate: float,
        recvmodes: tuple[int, ...],
    ) -> None:
        self.slot = slot
        self.origin = origin
        self.tls_origin = tls_origin
        self.stats = stats
        self.rng = rng
        self.fault_rate = fault_rate
        self.recvmodes = recvmodes
        self.seq = 0
        self.fired: list[str] = []  # faults that struck during the current request

    # ------------------------------------------------------------------ requests
    def plan(self, recvmode: int) -> Plan:
        rng = self.rng
        self.seq += 1
        kind = rng.choices(
            ("get", "chunked", "close", "range", "head", "post", "custom", "https"),
            weights=(5, 2, 2, 2, 1, 3, 2, 2),
        )[0]
        size = rng.choice((0, 1, 10, 500, 1460, 3000, 20000, 70000))
        size = max(size, 1) if kind in ("range",) else size
        base = ("url", "port", "keepalive", "recvmode", "SETUP", "ACTION")
        http = tuple(f"AT+HTTP{c}" if c.isupper() else f"AT+HTTPPARA={c}" for c in base)
        if kind in ("get", "chunked", "close"):
            query = {"get": "", "chunked": "?chunked=1&chunk=777", "close": "?close=1"}[kind]
            return Plan(
                f"{kind} {size}",
                "GET",
                self.origin.url(f"/bytes/{size}{query}"),
                {},
                pattern_bytes(0, size),
                commands=http,
                body_size=size,
                close_delimited=kind == "close",
            )
        if kind == "range":
            total = max(size, 2) * 3
            offset = rng.randrange(0, total)
            length = rng.randint(1, total - offset)
            return Plan(
                f"range {offset}+{length}",
                "GET",
                self.origin.url(f"/bytes/{total}"),
                {"offset": offset, "size": length},
                pattern_bytes(offset, length),
                commands=http,
                body_size=length,
            )
        if kind == "head":
            return Plan("head", "HEAD", self.origin.url(f"/bytes/{size}"), {}, b"", commands=http)
        if kind == "https":
            return Plan(
                f"https {size}",
                "GET",
                self.tls_origin.url(f"/bytes/{size}").replace("127.0.0.1", "localhost"),
                {"tls": TLSConfig(ca_cert="ca.pem")},
                pattern_bytes(0, size),
                https=True,
                commands=(*(c.replace("HTTP", "HTTPS", 1) for c in http), "AT+HTTPSCFG"),
                body_size=size,
            )
        body = self.body()
        name = f"s{self.slot.index}-{self.seq}"
        digest = hashlib.sha256(body).hexdigest()
        answer = json.dumps({"name": name, "size": len(body), "sha256": digest}).encode()
        if kind == "custom":
            options: dict[str, Any] = {"content": body, "headers": {"X-Soak": str(self.seq)}}
            method = rng.choice(("POST", "PUT"))
        else:
            options = {"content": body, "headers": {"Content-Type": "text/plain"}}
            method = "POST"
        return Plan(
            f"{method.lower()} {len(body)}",
            method,
            self.origin.url(f"/upload/{name}"),
            options,
            answer,
            upload=(name, body),
            commands=http,
            body_size=len(answer),
        )

    def body(self) -> bytes:
        rng = self.rng
        parts = [rng.choice(NASTY) for _ in range(rng.randint(0, 6))]
        parts.append(rng.randbytes(rng.randint(1, 600)))
        rng.shuffle(parts)
        return b"".join(parts)[:2000] or b"x"

    # ------------------------------------------------------------------ faults
    def arm(self, plan: Plan, recvmode: int) -> str | None:
        """Arm one random fault for ``plan``; return its label."""
        emu = self.slot.emu
        assert emu is not None
        rng = self.rng
        faults = emu.faults
        fault = rng.choice(FAULTS)
        phases = ["command", "header", "body"] if plan.body_size > 20 else ["command"]
        if plan.upload is not None:
            phases += ["prompt", "upload"]
        if recvmode == 0 and fault in ("drop", "garble", "inject"):
            # receive mode 0 cannot tell noise inside the raw response from data (documented):
            # keep noise to the framed phases
            phases = [p for p in phases if p not in ("header", "body")]
        phase = rng.choice(phases)
        label = f"{fault}/{phase}"

        def fired(action: Callable[[], object]) -> Callable[[], object]:
            def run() -> object:
                self.stats.faults_fired[label] += 1
                self.fired.append(label)
                return action()

            return run

        size = rng.randint(1, 40)
        stall = rng.choice((0.3, 1.0, 4.0))
        output: dict[str, Callable[[], object]] = {
            "drop": lambda: faults.drop_next(size),
            "garble": lambda: faults.garble_next(size),
            "stall": lambda: faults.stall(stall),
            "inject": lambda: faults.inject(rng.choice(NOISE), immediate=rng.random() < 0.5),
            "link_closed": faults.close_link,
            "reset": faults.reset,
            "port_gone": faults.drop_port,
        }
        action = fired(output[fault])
        ordered = fault not in ("link_closed",)
        if phase == "command":
            faults.on_command(rng.choice(plan.commands), action, ordered=ordered)
        elif phase == "prompt":
            faults.on_command("AT+HTTPACTION=", action, ordered=ordered)
        elif phase == "upload":
            faults.on_data(action, after=rng.randint(1, 40), ordered=ordered)
        else:
            # the head is about 150 server bytes: the body follows
            at = (
                rng.randint(1, 120) if phase == "header" else rng.randint(160, 150 + plan.body_size)
            )
            faults.after_body_bytes(at, action, ordered=ordered)
        self.stats.faults_armed[label] += 1
        return label

    # ------------------------------------------------------------------ the loop
    async def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(REQUEST_BOUND):
                    await self.one()
            except TimeoutError:
                self.stats.hangs.append(f"modem {self.slot.index}: request {self.seq} hung")
                await self.replace()
            except n58aio.N58Error as exc:
                # the request's own errors are caught in one(): this is the modem failing
                # afterwards, where the next commands must work
                self.stats.desyncs.append(
                    f"modem {self.slot.index}: no recovery after request {self.seq}: {exc!r}"
                )
                await self.replace()

    async def one(self) -> None:
        slot = self.slot
        modem = slot.modem
        emu = slot.emu
        assert modem is not None and emu is not None
        recvmode = self.rng.choice(self.recvmodes)
        plan = self.plan(recvmode)
        self.fired = []
        if self.rng.random() < self.fault_rate:
            self.arm(plan, recvmode)
        self.stats.requests += 1
        self.stats.by_mode[f"mode{recvmode}"] += 1
        received = bytearray()
        error: BaseException | None = None
        try:
            async with modem.stream(
                plan.method, plan.url, recvmode=1 if recvmode else 0, **plan.options
            ) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
        except n58aio.N58Error as exc:
            error = exc
            self.stats.errors[type(exc).__name__] += 1
        self.check_bytes(plan, bytes(received), error)
        emu.faults.clear()  # hooks that did not fire (the request failed before their phase)
        if error is None:
            self.stats.ok += 1
        if not emu.alive or modem.closed:
            if not modem.closed:
                await self.expect_port_error(modem)
            self.stats.faults_survived += bool(self.fired)  # reported gone, as promised
            await self.replace()
            return
        # after any failure the module may have restarted (data link down): attach again
        if error is not None:
            await modem.attach()
        await self.check_commands()
        self.stats.faults_survived += bool(self.fired)

    def check_bytes(self, plan: Plan, received: bytes, error: BaseException | None) -> None:
        where = f"modem {self.slot.index} request {self.seq} ({plan.label}, faults {self.fired})"
        expected = plan.expected
        if expected is not None:
            self.stats.bytes_compared += len(received)
            if (
                error is None
                and plan.close_delimited
                and self.fired
                and all(label.startswith("link_closed/") for label in self.fired)
                and len(received) < len(expected)
                and expected.startswith(received)
            ):
                # A body delimited by the end of the connection, cut by the connection ending:
                # HTTP itself cannot tell (any client returns this prefix). Counted apart.
                self.stats.truncated.append(f"{where}: {len(received)} of {len(expected)}")
            elif error is None and received != expected:
                self.stats.wrong_bytes.append(f"{where}: body differs ({len(received)} bytes)")
            elif error is not None and not expected.startswith(received):
                self.stats.wrong_bytes.append(f"{where}: wrong prefix before {error!r}")
        if plan.upload is not None:
            name, body = plan.upload
            got = self.origin.uploads.pop(name, None)
            if got is not None:
                self.stats.bytes_compared += len(got)
                if got != body:
                    self.stats.wrong_bytes.append(f"{where}: the origin got a wrong upload")

    async def check_commands(self) -> None:
        """Commands with distinctive replies: a reply taken from another command shows."""
        modem = self.slot.modem
        assert modem is not None
        self.stats.checks += 1
        ati = await modem.command("ATI")
        imei = await modem.command("AT+CGSN")
        csq = await modem.command("AT+CSQ")
        if ati.lines[:2] != ["Neoway", "N58"] or imei.lines != [self.slot.imei]:
            self.stats.desyncs.append(f"modem {self.slot.index}: {ati.lines} {imei.lines}")
        if csq.lines != ["+CSQ: 24,99"]:
            self.stats.desyncs.append(f"modem {self.slot.index}: AT+CSQ gave {csq.lines}")

    async def expect_port_error(self, modem: n58aio.Modem) -> None:
        try:
            await modem.command("AT", timeout=5.0)
        except n58aio.PortClosedError:
            return
        except n58aio.N58Error as exc:
            self.stats.desyncs.append(f"modem {self.slot.index}: gone port gave {exc!r}")
            return
        self.stats.desyncs.append(f"modem {self.slot.index}: a vanished port answered")

    async def replace(self) -> None:
        await self.slot.close()
        await self.slot.open()
        self.stats.modems_replaced += 1


def fd_count() -> int:
    """Open descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


async def soak(args: argparse.Namespace) -> Stats:
    """Run the soak described by ``args``; return what it saw."""
    stats = Stats()
    rng = random.Random(args.seed)
    recvmodes = {"1": (1,), "0": (0,), "mixed": (1, 0)}[args.recvmode]
    tasks_before = asyncio.all_tasks()
    fds_before = fd_count()
    tls_files = TLSFiles.generate()
    with tempfile.TemporaryDirectory(prefix="n58soak-") as tmp:
        async with OriginServer() as origin, OriginServer(tls=tls_files) as tls_origin:
            resolve = {"localhost": "127.0.0.1"}
            slots = []
            for index in range(args.modems):
                root = Path(tmp) / f"fs{index}"
                root.mkdir()
                tls_files.write_to(root)
                slots.append(Slot(index, root, resolve))
            try:
                for slot in slots:
                    await slot.open()
                deadline = time.monotonic() + args.seconds
                workers = [
                    Worker(
                        slot,
                        origin,
                        tls_origin,
                        stats,
                        random.Random(rng.random()),
                        args.fault_rate,
                        recvmodes,
                    )
                    for slot in slots
                ]
                progress = asyncio.create_task(report_progress(stats, deadline, args.quiet))
                try:
                    await asyncio.gather(*(worker.run(deadline) for worker in workers))
                finally:
                    progress.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await progress
            finally:
                for slot in slots:
                    await slot.close()
    await check_leaks(stats, tasks_before, fds_before)
    return stats


async def check_leaks(stats: Stats, tasks_before: set[asyncio.Task[Any]], fds: int) -> None:
    """Everything closed: no task and no descriptor may remain."""
    deadline = time.monotonic() + 5.0
    while True:
        extra = asyncio.all_tasks() - tasks_before - {asyncio.current_task()}
        extra_fds = fd_count() - fds
        if not extra and extra_fds <= 0:
            return
        if time.monotonic() > deadline:
            if extra:
                stats.leaks.append(f"{len(extra)} task(s): {sorted(t.get_name() for t in extra)}")
            if extra_fds > 0:
                stats.leaks.append(f"{extra_fds} file descriptor(s)")
            return
        await asyncio.sleep(0.1)


async def report_progress(stats: Stats, deadline: float, quiet: bool) -> None:
    """A line every 30 s."""
    while not quiet:
        await asyncio.sleep(30)
        left = max(0, deadline - time.monotonic())
        print(
            f"[soak] {stats.requests} requests, {sum(stats.faults_fired.values())} faults, "
            f"{stats.bytes_compared} bytes compared, {left:.0f} s left",
            file=sys.stderr,
            flush=True,
        )


def summary(stats: Stats, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """The figures of a run, as a JSON-able dict."""
    return {
        "modems": args.modems,
        "seconds": round(seconds, 1),
        "fault_rate": args.fault_rate,
        "recvmode": args.recvmode,
        "seed": args.seed,
        "requests": stats.requests,
        "requests_ok": stats.ok,
        "requests_by_mode": dict(stats.by_mode),
        "command_checks": stats.checks,
        "bytes_compared": stats.bytes_compared,
        "faults_armed": sum(stats.faults_armed.values()),
        "faults_injected": sum(stats.faults_fired.values()),
        "faults_survived": stats.faults_survived,
        "faults_by_kind": dict(sorted(stats.faults_fired.items())),
        "errors_by_type": dict(sorted(stats.errors.items())),
        "modems_replaced": stats.modems_replaced,
        "wrong_bytes": stats.wrong_bytes,
        "close_delimited_truncated": stats.truncated,
        "hangs": stats.hangs,
        "desyncs": stats.desyncs,
        "leaks": stats.leaks,
        "passed": not stats.failed,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n")[0])
    parser.add_argument("--modems", type=int, default=4, help="emulated modems (default 4)")
    parser.add_argument("--seconds", type=float, default=600, help="duration (default 600)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.05, help="share of requests with a fault"
    )
    parser.add_argument("--recvmode", choices=("1", "0", "mixed"), default="mixed")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 32)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the figures; 1 when a promise was broken."""
    args = parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    started = time.monotonic()
    stats = asyncio.run(soak(args))
    figures = summary(stats, args, time.monotonic() - started)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 1 if stats.failed else 0


if __name__ == "__main__":
    sys.exit(main())
