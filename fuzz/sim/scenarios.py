"""Directed schedules: the situations of issue #22, items 1 to 3 (and #23 item 3), simulated.

Each scenario is a fixed script on a :class:`~fuzz.sim.run.World` (no dice but the module's
few milliseconds of work per command), checked by the same invariants as the random runs.
:func:`run_scenario` raises :class:`~fuzz.sim.run.SimulationFailure` when one breaks.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from n58aio.channel import ByteDecoder, Reply
from n58aio.errors import N58Error

from .module import Behaviour
from .run import World, build_world, close_world, http_response, run_checked
from .workload import PROFILES, Workload

__all__ = ["SCENARIOS", "run_scenario"]

Scenario = Callable[[World, Workload], Awaitable[None]]


async def stalled_consumer_while_polling(world: World, calls: Workload) -> None:
    """#22 item 1: a receive-mode-1 download whose consumer stalls 8 s while another task
    polls ``AT+CSQ``, ``ATI``, ``AT+CGMR`` with 1 s timeouts: the stream must carry the
    server's bytes, or fail; never later bytes in place of lost ones. (Only the stream's and
    the replies' invariants count here: the polls' time is item 2.)"""
    channel, checker = world.channel, world.checker
    checker.enforce = frozenset({"exact-bytes", "own-reply", "error-type"})
    server = world.module.response
    for line in ("AT+HTTPPARA=url,http://origin.test/big", "AT+HTTPPARA=recvmode,1"):
        assert isinstance(await calls.command(line, None), Reply)
    assert isinstance(await calls.command("AT+HTTPSETUP", None), Reply)
    stream = channel.open_stream("HTTP", ByteDecoder(), max_buffer=16384)
    assert isinstance(await calls.command("AT+HTTPACTION=0", None), Reply)
    loop = asyncio.get_running_loop()
    polling = True

    async def poll() -> None:
        commands = ("AT+CSQ", "ATI", "AT+CGMR")
        index = 0
        while polling:
            await calls.command(commands[index % 3], 1.0)
            index += 1
            await asyncio.sleep(0.5)

    poller = loop.create_task(poll())
    got = bytearray()
    stalled = False
    try:
        while True:
            if not stalled and len(got) >= 20000:
                stalled = True
                world.line.trace("consumer stalls 8 s")
                await asyncio.sleep(8.0)
            try:
                item = await stream.receive(timeout=30.0)
            except anyio.EndOfStream:
                checker.stream_end("stream", bytes(got), server)
                break
            except N58Error as exc:
                world.line.trace(f"stream failed at byte {len(got)}: {exc!r}")
                break
            checker.stream_item("stream", bytes(got), item, server)
            got += item
    finally:
        polling = False
        await poller


async def busy_module_zombie(world: World, calls: Workload) -> None:
    """#22 item 2: behind a module busy 12 s with a command whose caller gave up after 1 s,
    ``command("AT+CSQ", timeout=1.0)`` must end within its own second (plus the slack)."""
    world.module.behaviour.busy["AT+HTTPSETUP"] = [12.0]
    await calls.command("AT+HTTPPARA=url,http://origin.test/x", None)
    await calls.command("AT+HTTPSETUP", 1.0)
    await asyncio.sleep(0.2)
    await calls.command("AT+CSQ", 1.0)
    await calls.command("ATI", 1.0)


async def cancelled_behind_busy(world: World, calls: Workload) -> None:
    """#22 item 2, cancelled: the caller of a 12 s command cancels it after 0.5 s; the next
    calls end within their own timeouts."""
    world.module.behaviour.busy["AT+HTTPSETUP"] = [12.0]
    await calls.command("AT+HTTPSETUP", None, cancel_after=0.5)
    await calls.command("AT+CGMR", 1.0)
    await calls.command("AT+CSQ", 2.0)


async def probe_ended_by_late_ok(world: World, calls: Workload) -> None:
    """#22 item 3: ``AT`` keeps the module busy 3 s (within its 5 s) and its caller gives up
    after 1 s; the probe goes out, echoed at once (the UART echoes while busy), and the late
    ``OK`` of ``AT`` follows its echo. That OK must not end the probe: else the probe's own
    answer (``+CME ERROR: 58``) is taken by the next command."""
    assert isinstance(await calls.command("AT+CMEE=1", None), Reply)
    world.module.behaviour.busy["AT"] = [3.0]
    await calls.command("AT", 1.0)
    await asyncio.sleep(0.1)
    for command in ("AT+CSQ", "AT+CGMR", "AT+CSQ"):
        await calls.command(command, 5.0)


async def _restart_mid_chunk(world: World, calls: Workload, *, report: bool) -> None:
    """#23 item 3: a restart cuts a chunk of a download; its consumer waits with no timeout of
    its own. The stream must fail within 2 s of the cut (a chunk whose bytes stop for its line
    time and 1 s is lost), its bytes a prefix of the server's. The module is back after 0.5 s:
    its ``+PBREADY`` then comes amid the cut chunk, read as its data (a later boot report
    restarts the chunk's 1 s later)."""
    module = world.module
    module.behaviour.boot_report = report
    module.behaviour.boot_time = (0.5, 0.5)
    module.behaviour.chunk_size = (1400, 1460)
    server = module.response
    for line in ("AT+HTTPPARA=url,http://origin.test/big", "AT+HTTPPARA=recvmode,1"):
        assert isinstance(await calls.command(line, None), Reply)
    assert isinstance(await calls.command("AT+HTTPSETUP", None), Reply)
    stream = world.channel.open_stream("HTTP", ByteDecoder())
    assert isinstance(await calls.command("AT+HTTPACTION=0", None), Reply)
    loop = asyncio.get_running_loop()
    got = bytearray()
    while len(got) < 30000:
        item = await stream.receive(timeout=5.0)
        world.checker.stream_item("stream", bytes(got), item, server)
        got += item
    # the next instant the module's output stops inside a chunk: restart then
    cut = loop.time() + 0.0005
    module.behaviour.restart_times.append(cut)
    module._restart_at = sorted(module.behaviour.restart_times)
    world.line.kick()
    started = loop.time()
    while True:
        try:
            item = await stream.receive()
        except N58Error as exc:
            world.line.trace(f"stream failed at byte {len(got)}: {exc!r}")
            break
        except anyio.EndOfStream:
            world.checker.stream_end("stream", bytes(got), server)
            break
        world.checker.stream_item("stream", bytes(got), item, server)
        got += item
    world.checker.bounded("the stream's end after a restart", started, loop.time(), 2.0)


async def restart_cuts_a_chunk(world: World, calls: Workload) -> None:
    """:func:`_restart_mid_chunk`, the module reporting its boot (``+PBREADY``)."""
    await _restart_mid_chunk(world, calls, report=True)


async def silent_restart_cuts_a_chunk(world: World, calls: Workload) -> None:
    """:func:`_restart_mid_chunk`, the module coming back without a word."""
    await _restart_mid_chunk(world, calls, report=False)


SCENARIOS: dict[str, Scenario] = {
    "restart_cuts_a_chunk": restart_cuts_a_chunk,
    "silent_restart_cuts_a_chunk": silent_restart_cuts_a_chunk,
    "stalled_consumer_while_polling": stalled_consumer_while_polling,
    "busy_module_zombie": busy_module_zombie,
    "cancelled_behind_busy": cancelled_behind_busy,
    "probe_ended_by_late_ok": probe_ended_by_late_ok,
}


def run_scenario(name: str, *, seed: int = 0, response_size: int = 300_000) -> list[str]:
    """Run scenario ``name``; return its trace (raise on a broken invariant)."""
    scenario = SCENARIOS[name]
    kept: list[str] = []

    async def main(trace: deque[str]) -> None:
        rng = random.Random(f"{seed}/world")
        behaviour = Behaviour(random.Random(f"{seed}/module"))
        world = build_world(behaviour, http_response(rng, response_size), trace)
        calls = Workload(world.channel, world.line, world.checker, PROFILES["calm"], seed)
        await scenario(world, calls)
        await close_world(world)
        kept.extend(trace)

    run_checked(main, seed, name)
    return kept
