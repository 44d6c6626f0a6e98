"""One simulated run: a seed and a profile in, a :class:`RunResult` (or a violation) out.

Everything is drawn from the seed: the module's behaviour (busy times, noise, restarts), the
line (OS buffer size), the server's response and the workload. The channel is the real
:class:`~n58aio.channel.ModemChannel`, driven on a :class:`~fuzz.sim.vloop.VirtualLoop` over a
:class:`~fuzz.sim.line.SimLine`. After the workload, the run checks that nothing leaks: the
channel closed, no task is left, and no timer once the recovery grace has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import structlog

from n58aio.channel import ModemChannel
from n58aio.errors import N58Error
from n58aio.wire import DEFAULT_MAX_LINE

from . import vloop
from .check import FORGED_REPORTS, Checker, Violation
from .line import SimLine
from .module import REVISION, Behaviour, SimN58
from .workload import PROFILES, Profile, Workload

__all__ = [
    "SLACK",
    "RunResult",
    "SimulationFailure",
    "World",
    "build_world",
    "close_world",
    "http_response",
    "run_checked",
    "simulate",
]

SLACK = 0.1
"""Virtual seconds a call may take beyond its timeout (see docs/simulation.md)."""
HANG_LIMIT = 600.0
RECOVERY_TRIES = 4
"""Commands the channel may fail after the faults stop before it must answer again."""
RECOVERY_TIMEOUT = 30.0
"""Virtual seconds after the workload's end by which every actor must have finished."""
RESYNC_GRACE = 0.5


@dataclass
class RunResult:
    """What a run did (for statistics and for the tests' sanity checks)."""

    seed: int
    profile: str
    virtual_seconds: float = 0.0
    calls: int = 0
    stream_items: int = 0
    streams: int = 0
    streams_complete: int = 0
    executions: int = 0
    restarts: int = 0
    noise_hits: int = 0
    resyncs: int = 0
    events: Counter[str] = field(default_factory=Counter)
    """Cancels, stalls, abandons, custom requests, read pauses, broken invariants waived."""
    trace: list[str] = field(default_factory=list)


class SimulationFailure(AssertionError):
    """A run broke an invariant: the seed, the invariant and the end of the trace."""

    def __init__(self, seed: int, profile: str, invariant: str, detail: str, trace: list[str]):
        self.seed = seed
        self.profile = profile
        self.invariant = invariant
        self.detail = detail
        self.trace = trace
        tail = "\n".join(short_trace(trace)[-40:])
        super().__init__(
            f"seed {seed} profile {profile}: {invariant}: {detail}\n"
            f"replay: python -m fuzz.simulate {_kind(profile)} {profile} --seed {seed} --trace\n"
            f"{tail}"
        )


def short_trace(trace: list[str]) -> list[str]:
    """``trace`` with each run of bulk reads (``host < 256 B ...``) folded into one line."""
    short: list[str] = []
    run: list[str] = []

    def fold() -> None:
        if len(run) > 2:
            size = sum(int(line.split("host < ", 1)[1].split(" ", 1)[0]) for line in run)
            short.append(f"{run[0][:9]} host < ... {len(run)} reads, {size} B, until {run[-1][:9]}")
        else:
            short.extend(run)
        run.clear()

    for line in trace:
        if _BULK.search(line):
            run.append(line)
        else:
            fold()
            short.append(line)
    fold()
    return short


_BULK = re.compile(r"host < \d+ B ")


def _kind(name: str) -> str:
    return "--profile" if name in PROFILES else "--scenario"


def simulate(
    seed: int,
    profile: str | Profile = "full",
    *,
    slack: float = SLACK,
    enforce: frozenset[str] | None = None,
) -> RunResult:
    """Run ``seed`` under ``profile``; raise :class:`SimulationFailure` when an invariant breaks
    (of ``enforce``, when given: the others are counted in :attr:`RunResult.events`)."""
    chosen = PROFILES[profile] if isinstance(profile, str) else profile
    result = RunResult(seed, chosen.name)

    async def main(trace: deque[str]) -> None:
        await _random_run(seed, chosen, slack, trace, result, enforce)

    run_checked(main, seed, chosen.name)
    return result


def run_checked(main: Callable[[deque[str]], Awaitable[None]], seed: int, name: str) -> None:
    """Run ``main(trace)`` on a virtual loop, with probe tokens drawn from ``seed``; turn a
    broken invariant into a :class:`SimulationFailure` that carries the trace."""
    trace: deque[str] = deque(maxlen=400)
    with _seeded_tokens(seed):
        try:
            vloop.run(main(trace))
        except Violation as exc:
            failure = SimulationFailure(seed, name, exc.invariant, exc.detail, list(trace))
            raise failure from exc
        except vloop.Deadlock as exc:
            failure = SimulationFailure(seed, name, "no-deadlock", str(exc), list(trace))
            raise failure from exc
        except vloop.Livelock as exc:
            failure = SimulationFailure(seed, name, "no-livelock", str(exc), list(trace))
            raise failure from exc
        except vloop.Crash as exc:
            failure = SimulationFailure(seed, name, "no-crash", str(exc), list(trace))
            raise failure from exc


@dataclass
class World:
    """A module, its line and a channel on it, and the checker that watches them."""

    module: SimN58
    line: SimLine
    channel: ModemChannel
    checker: Checker


def build_world(
    behaviour: Behaviour,
    response: bytes,
    trace: deque[str],
    *,
    os_buffer: int = 4096,
    slack: float = SLACK,
) -> World:
    """Connect a fresh channel to a simulated module (call inside the virtual loop)."""
    module = SimN58(behaviour, response)
    line = SimLine(module, os_buffer=os_buffer, trace=trace)
    channel = ModemChannel(name="sim", baudrate=line.baudrate, log=_trace_logger(line))
    channel.resync_grace = RESYNC_GRACE
    channel.connection_made(line.transport)
    line.transport.set_protocol(channel)
    checker = Checker(module, slack)
    parser = getattr(channel, "parser", None)
    if parser is not None and hasattr(parser, "buffered"):
        # what the parser holds: the last read, a line being assembled, a chunk being confirmed
        limit = line.read_size + DEFAULT_MAX_LINE + 4096

        def check_buffers() -> None:
            checker.bounded_buffer("the parser", parser.buffered, limit)
            checker.bounded_buffer("the host's OS buffer", len(line.rx), line.os_buffer)

        line.after_read = check_buffers
    return World(module, line, channel, checker)


async def recovers(world: World) -> None:
    """The invariant ``recovers``: once the faults stop (no noise, no loss, no duplicate, no
    restart, no busy time), the channel gets back in step by itself: within a few calls,
    ``ATI`` gets its own answer again. A count of answers left wrong for good fails it."""
    module = world.module
    behaviour = module.behaviour
    behaviour.busy_chance = behaviour.duplicate_final_chance = 0.0
    behaviour.noise_chance = behaviour.loss_chance = behaviour.rx_noise_chance = 0.0
    module._restart_at = []
    expected = ["Neoway", "N58", f"Revision: {REVISION}"]
    outcomes = []
    for _ in range(RECOVERY_TRIES):
        try:
            reply = await world.channel.command("ATI", timeout=RECOVERY_TIMEOUT)
        except N58Error as exc:
            outcomes.append(type(exc).__name__)
            continue
        if reply.lines == expected and reply.final == "OK":
            return
        outcomes.append(f"lines {reply.lines!r:.80}")
    world.checker.fail("recovers", f"ATI, once the faults stopped: {', '.join(outcomes)}")


async def close_world(world: World) -> None:
    """Close the channel and check that nothing is left running once recovery is due."""
    world.channel.close()
    await asyncio.sleep(0)
    world.line.stop()
    await asyncio.sleep(HANG_LIMIT)  # any recovery timer is due by now
    _check_leaks(asyncio.get_running_loop())


async def _random_run(
    seed: int,
    profile: Profile,
    slack: float,
    trace: deque[str],
    result: RunResult,
    enforce: frozenset[str] | None,
) -> None:
    rng = random.Random(f"{seed}/world")
    loop = asyncio.get_running_loop()
    behaviour = Behaviour(
        random.Random(f"{seed}/module"),
        busy_chance=profile.busy_chance,
        duplicate_final_chance=profile.duplicate_final_chance,
        noise_chance=profile.noise_chance,
        loss_chance=profile.loss_chance,
        rx_noise_chance=profile.rx_noise_chance,
        echo_while_busy=profile.echo_while_busy,
        server_stall_chance=profile.server_stall_chance,
        server_rng=random.Random(f"{seed}/server"),
        restart_times=[
            rng.uniform(0.5, profile.duration) for _ in range(rng.randint(*profile.restarts))
        ],
    )
    response = http_response(rng, rng.randint(*profile.response_size))
    world = build_world(
        behaviour, response, trace, os_buffer=rng.choice(profile.os_buffer), slack=slack
    )
    world.checker.enforce = enforce
    workload = Workload(world.channel, world.line, world.checker, profile, seed)
    started = loop.time()
    try:
        async with asyncio.timeout(profile.duration + HANG_LIMIT):
            await workload.run()
    except TimeoutError:
        raise Violation("bounded-time", "the workload hung past its end") from None
    ended = loop.time()
    await recovers(world)
    await close_world(world)
    result.virtual_seconds = ended - started
    result.calls = world.checker.calls
    result.stream_items = world.checker.items
    result.streams = workload.streams_done
    result.streams_complete = workload.streams_complete
    result.executions = len(world.module.executions)
    result.restarts = world.module.restarts
    result.noise_hits = world.module.noise_hits
    result.resyncs = world.channel.resyncs
    result.events = workload.events
    result.events["read pause"] = world.channel.read_pauses
    for violation in world.checker.waived:
        result.events[f"waived {violation.invariant}"] += 1
    result.trace = list(trace)


def _check_leaks(loop: asyncio.AbstractEventLoop) -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if tasks:
        raise Violation("no-leak", f"tasks left after close: {tasks!r:.300}")
    scheduled: list[Any] = getattr(loop, "_scheduled", [])
    timers = [handle for handle in scheduled if not handle.cancelled()]
    if timers:
        raise Violation("no-leak", f"timers left after close: {timers!r:.300}")


def http_response(rng: random.Random, size: int) -> bytes:
    """A server's answer: head, then a body made to look like the module now and then."""
    parts = []
    total = 0
    lookalikes = (
        b"\r\nOK\r\n",
        b"\r\n+HTTPRECV: 12,",
        b"\r\nERROR\r\n",
        b"AT+CSQ\r",
        b"\r\n>",
        *(b"\r\n%s\r\n" % line.encode() for line in FORGED_REPORTS),
    )
    while total < size:
        part = rng.choice(lookalikes) if rng.random() < 0.05 else rng.randbytes(rng.randint(1, 64))
        parts.append(part)
        total += len(part)
    body = b"".join(parts)[:size]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    return head + body


@contextlib.contextmanager
def _seeded_tokens(seed: int) -> Iterator[None]:
    """The channel's probe tokens from the seed too, so that a replay writes the same bytes."""
    rng = random.Random(f"{seed}/tokens")

    def token_hex(nbytes: int | None = None) -> str:
        return rng.randbytes(nbytes or 32).hex()

    with mock.patch.object(secrets, "token_hex", token_hex):
        yield


class _TraceLogger:
    """A structlog logger that writes the channel's events into the run's trace."""

    def __init__(self, line: SimLine) -> None:
        self._line = line

    def msg(self, event: str = "", **fields: Any) -> None:
        shown = " ".join(f"{key}={value!r:.60}" for key, value in fields.items())
        self._line.trace(f"channel {event} {shown}")

    debug = info = warning = warn = error = critical = exception = msg


def _trace_logger(line: SimLine) -> Any:
    return structlog.wrap_logger(
        _TraceLogger(line),
        wrapper_class=structlog.make_filtering_bound_logger(0),
        processors=[],
    )
