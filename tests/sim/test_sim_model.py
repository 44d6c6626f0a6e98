"""The simulation's own parts, checked directly: virtual time, the module model, the line,
and that the checker fails what it must (a simulation that cannot fail proves nothing)."""

from __future__ import annotations

import asyncio
import operator
import random
from typing import Any

import pytest

from fuzz.sim import vloop
from fuzz.sim.check import Checker, Violation
from fuzz.sim.line import SimLine
from fuzz.sim.module import Behaviour, SimN58, csq_serial
from fuzz.sim.run import SimulationFailure, simulate
from n58aio.channel import ByteDecoder, ModemChannel, Reply
from n58aio.errors import CommandError, CommandTimeout


def _module(**options: object) -> SimN58:
    behaviour = Behaviour(random.Random(1), command_time=(0.01, 0.01), **options)  # type: ignore[arg-type]
    return SimN58(behaviour, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")


def _run(module: SimN58, data: bytes, until: float, at: float = 0.0) -> bytes:
    """Feed ``data`` at ``at`` and poll the module until ``until``; return its output."""
    module.receive(data, at)
    now = at
    while True:
        deadline = module.next_deadline()
        if deadline is None or deadline > until:
            break
        now = deadline
        module.poll(now)
    return module.take(1 << 20)


def test_virtual_time_jumps_to_the_next_timer() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.sleep(10)
        return loop.time()

    assert vloop.run(main()) == 3605.0


def test_a_run_waiting_on_nothing_is_a_deadlock() -> None:
    async def main() -> None:
        await asyncio.Event().wait()

    with pytest.raises(vloop.Deadlock):
        vloop.run(main())


def test_a_timer_that_rearms_at_the_same_instant_is_a_livelock() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        when = loop.time() + 1.0

        def fire() -> None:
            loop.call_at(when, fire)  # "not yet": again at the same due time, for ever

        loop.call_at(when, fire)
        await asyncio.sleep(5)

    with pytest.raises(vloop.Livelock, match=r"loop turns at t=1\.0"):
        vloop.run(main())


def test_the_module_echoes_and_answers() -> None:
    module = _module()
    assert _run(module, b"ATI\r", 1.0) == (
        b"ATI\r\r\nNeoway\r\n\r\nN58\r\n\r\nRevision: N58-R07-STD-BZ-SIM\r\n\r\nOK\r\n"
    )
    assert _run(module, b"AT+NOPE\r", 2.0, 1.0) == b"AT+NOPE\r\r\nERROR\r\n"
    assert _run(module, b"AT+CMEE=1\r", 3.0, 2.0).endswith(b"\r\nOK\r\n")
    assert _run(module, b"AT+N58SYNC=00\r", 4.0, 3.0) == b"AT+N58SYNC=00\r\r\n+CME ERROR: 58\r\n"
    assert _run(module, b"ATE0\r", 5.0, 4.0) == b"ATE0\r\r\nOK\r\n"
    assert _run(module, b"AT\r", 6.0, 5.0) == b"\r\nOK\r\n"


def test_csq_answers_carry_the_execution_serial() -> None:
    module = _module()
    out = _run(module, b"AT\rAT+CSQ\r", 1.0)
    assert out.endswith(b"\r\n+CSQ: 2,0\r\n\r\nOK\r\n")
    assert csq_serial("+CSQ: 2,0") == 2 == module.executions[-1].serial


def test_a_busy_module_echoes_at_once_and_answers_in_order() -> None:
    module = _module(busy={"AT": [3.0]})
    out = _run(module, b"AT\r", 0.5)
    assert out == b"AT\r"  # echoed, not answered yet
    out = _run(module, b"AT+N58SYNC=1\r", 1.0, 0.5)
    assert out == b"AT+N58SYNC=1\r"  # the UART echoes while the module is busy
    assert _run(module, b"", 4.0, 1.0) == b"\r\nOK\r\n\r\nERROR\r\n"


def test_a_module_that_echoes_late_echoes_a_line_when_it_reads_it() -> None:
    module = _module(busy={"AT": [3.0]}, echo_while_busy=False)
    assert _run(module, b"AT\r", 0.5) == b"AT\r"  # idle: echoed at once
    assert _run(module, b"AT+N58SYNC=1\r", 1.0, 0.5) == b""  # busy: not yet
    assert _run(module, b"", 4.0, 1.0) == b"\r\nOK\r\nAT+N58SYNC=1\r\r\nERROR\r\n"


def test_http_response_in_receive_mode_1_chunks_then_closed() -> None:
    module = _module(chunk_size=(20, 20))
    assert _run(module, b"ATE0\r", 0.5) == b"ATE0\r\r\nOK\r\n"
    out = _run(module, b"AT+HTTPSETUP\rAT+HTTPACTION=0\r", 1.0, 0.5)
    body = module.response
    assert out == (
        b"\r\nOK\r\n\r\nOK\r\n"
        + b"".join(
            b"\r\n+HTTPRECV: %d,%s\r\n" % (len(body[i : i + 20]), body[i : i + 20])
            for i in range(0, len(body), 20)
        )
        + b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    )


def test_the_data_phase_takes_exactly_its_bytes_or_expires() -> None:
    module = _module(data_timeout=1.0)
    _run(module, b"ATE0\r", 0.1)
    out = _run(module, b"AT+HTTPSETUP\rAT+HTTPACTION=99,4\r", 0.5, 0.1)
    assert out == b"\r\nOK\r\n\r\n>"
    out = _run(module, b"GET\rAT+CSQ\r", 0.6, 0.5)
    assert module.received_data == [b"GET\r"]
    # the request's OK; the command queued behind the data; then the response
    assert out.startswith(b"\r\nOK\r\n\r\n+CSQ: 4,0\r\n\r\nOK\r\n\r\n+HTTPRECV: 41,HTTP/1.1 ")
    module = _module(data_timeout=1.0)
    _run(module, b"ATE0\r", 0.1)
    _run(module, b"AT+HTTPSETUP\rAT+HTTPACTION=99,4\r", 0.5, 0.1)
    assert _run(module, b"", 2.0, 0.5) == b"\r\nOPERATION EXPIRED\r\n"


def test_a_restart_cuts_output_and_forgets_settings() -> None:
    module = _module(restart_times=[1.0], boot_time=(0.5, 0.5))
    _run(module, b"ATE0\rAT+CMEE=1\r", 0.5)
    assert (module.echo, module.cmee) == (False, 1)
    assert _run(module, b"AT\r", 1.2, 1.0) == b""  # booting: reads nothing
    assert _run(module, b"", 2.0, 1.2) == b"\r\n+PBREADY\r\n"
    assert (module.echo, module.cmee) == (True, 0)


def test_the_line_stops_the_module_while_reading_is_paused() -> None:
    """Flow control: the OS buffer fills to its size, then the module's output backs up."""

    async def main() -> tuple[int, int, int, int]:
        module = _module(chunk_size=(100, 100))
        module.response = b"x" * 50_000
        line = SimLine(module, os_buffer=1024)
        received = bytearray()

        class Sink(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                received.extend(data)

        line.transport.set_protocol(Sink())
        line.transport.pause_reading()
        line.host_write(b"AT+HTTPSETUP\rAT+HTTPACTION=0\r")
        await asyncio.sleep(5)
        paused = len(received), len(line.rx), len(module.tx)
        line.transport.resume_reading()
        await asyncio.sleep(10)
        line.stop()
        return (*paused, len(received))

    got, buffered, backlog, total = vloop.run(main())
    assert got == 0 and buffered == 1024
    assert 0 < backlog <= 4096 + 200  # the module's own bound, one chunk over at most
    assert total > 50_000


def test_the_checker_fails_a_reply_to_another_command() -> None:
    module = _module()
    _run(module, b"AT+CSQ\rAT+CSQ\r", 1.0)
    checker = Checker(module, slack=0.1)
    first, second = module.executions
    checker.outcome("AT+CSQ", 0.0, Reply("AT+CSQ", [f"+CSQ: {first.serial},0"]))
    with pytest.raises(Violation, match="handed to two calls"):
        checker.outcome("AT+CSQ", 0.0, Reply("AT+CSQ", [f"+CSQ: {first.serial},0"]))
    with pytest.raises(Violation, match="own-reply"):
        checker.outcome("AT+CGMR", 0.0, Reply("AT+CGMR", []))
    with pytest.raises(Violation, match="own-reply"):
        checker.outcome("AT", 0.0, CommandError("AT", "+CME ERROR: 58", 58))
    with pytest.raises(Violation, match="earlier call"):
        checker.outcome("AT+CSQ", 0.5, Reply("AT+CSQ", [f"+CSQ: {second.serial},0"]))
    checker.outcome("AT+NOPE", 0.0, CommandError("AT+NOPE", "ERROR"))
    checker.outcome("AT", 0.0, CommandTimeout("AT", 1.0))
    with pytest.raises(Violation, match="error-type"):
        checker.outcome("AT", 0.0, RuntimeError("x"))


def test_the_checker_fails_wrong_bytes_a_short_end_and_an_overrun() -> None:
    checker = Checker(_module(), slack=0.1)
    checker.stream_item("s", b"ab", b"cd", b"abcdef")
    with pytest.raises(Violation, match="byte 3 is b'x'"):
        checker.stream_item("s", b"ab", b"cx", b"abcdef")
    with pytest.raises(Violation, match="ended after 4 of 6"):
        checker.stream_end("s", b"abcd", b"abcdef")
    checker.bounded("c", 1.0, 2.1, 1.0)
    with pytest.raises(Violation, match="bounded-time"):
        checker.bounded("c", 1.0, 2.2, 1.0)


def test_a_seed_replays_the_same_run() -> None:
    first = simulate(7, "calm")
    second = simulate(7, "calm")
    assert first.trace == second.trace
    assert first.calls > 50 and first.streams_complete >= 1
    assert simulate(8, "calm").trace != first.trace


# ---------------------------------------------------------------------- the simulation catches
# A channel that breaks a promise, through nothing but its public API, fails a calm run with
# the invariant it broke (whatever the channel's inside looks like).


def _broken(monkeypatch: pytest.MonkeyPatch, wrap: Any) -> None:
    original = ModemChannel.command

    async def command(self: ModemChannel, command: str, **options: Any) -> Reply:
        return await wrap(original, self, command, **options)  # type: ignore[no-any-return]

    monkeypatch.setattr(ModemChannel, "command", command)


def _fails_with(invariant: str) -> SimulationFailure:
    with pytest.raises(SimulationFailure) as failure:
        for seed in range(5):
            simulate(seed, "calm")
    assert failure.value.invariant == invariant, failure.value
    assert f"--seed {failure.value.seed}" in str(failure.value)  # how to replay it
    return failure.value


def test_a_wrong_byte_in_a_stream_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = ByteDecoder.feed
    calls = 0

    def corrupt(self: ByteDecoder, data: bytes) -> tuple[list[bytes], int | None]:
        nonlocal calls
        calls += 1
        if calls == 3 and data:
            data = bytes((data[0] ^ 1,)) + data[1:]
        return feed(self, data)

    monkeypatch.setattr(ByteDecoder, "feed", corrupt)
    assert "the server's is" in _fails_with("exact-bytes").detail


def test_another_calls_reply_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[Reply] = []

    async def stale(original: Any, self: ModemChannel, command: str, **options: Any) -> Reply:
        reply: Reply = await original(self, command, **options)
        if command == "AT+CSQ":
            kept.append(reply)
            return kept[0]  # the first answer, again and again
        return reply

    _broken(monkeypatch, stale)
    _fails_with("own-reply")


def test_a_call_past_its_timeout_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow(original: Any, self: ModemChannel, command: str, **options: Any) -> Reply:
        reply: Reply = await original(self, command, **options)
        if command == "ATI":
            await asyncio.sleep(self.default_timeout(command) + 1)
        return reply

    _broken(monkeypatch, slow)
    _fails_with("bounded-time")


def test_a_task_left_running_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    forever: list[asyncio.Task[bool]] = []

    async def leaky(original: Any, self: ModemChannel, command: str, **options: Any) -> Reply:
        if not forever:
            forever.append(asyncio.get_running_loop().create_task(asyncio.Event().wait()))
        return await original(self, command, **options)  # type: ignore[no-any-return]

    _broken(monkeypatch, leaky)
    _fails_with("no-leak")


def test_the_command_line_runs_seeds_and_replays_one(capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.simulate import main

    assert main(["--profile", "calm", "--runs", "2", "--start", "40"]) == 0
    assert "2 runs, seeds 40..41, 0 failed" in capsys.readouterr().out
    assert main(["--profile", "calm", "--seed", "40", "--trace"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok   seed 40 profile calm: ")
    assert "call AT" in out and "host > b'AT" in out


@pytest.mark.parametrize(
    ("profile", "reached"),
    [
        ("calm", {"custom request", "stream complete"}),
        ("busy", {"cancel", "resync"}),
        ("busy_echo_late", {"cancel", "resync"}),
        ("stall", {"stall", "abandon", "read pause", "stream complete"}),
        ("noisy", {"restart", "noise", "custom request", "resync", "stream complete"}),
        ("full", {"restart", "noise", "cancel", "stall", "abandon", "read pause", "resync"}),
    ],
)
def test_each_profile_reaches_its_situations(profile: str, reached: set[str]) -> None:
    """Ten seeds of a profile (its invariants only counted here) go where the profile says."""
    seen: set[str] = set()
    for seed in range(10):
        result = simulate(seed, profile, enforce=frozenset())
        seen |= {event for event, count in result.events.items() if count}
        seen |= {"restart"} if result.restarts else set()
        seen |= {"noise"} if result.noise_hits else set()
        seen |= {"resync"} if result.resyncs > 1 else set()  # more than the first
        seen |= {"stream complete"} if result.streams_complete else set()
    assert reached <= seen, f"{profile} never reached {reached - seen}"


def test_an_exception_nobody_handles_fails_the_run() -> None:
    """An exception escaping a callback (the channel's protocol, say) is a ``Crash``, not a
    line in a log that the run goes on past."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(operator.truediv, 1, 0)
        await asyncio.sleep(1.0)

    with pytest.raises(vloop.Crash, match="ZeroDivisionError"):
        vloop.run(main())
