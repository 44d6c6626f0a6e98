"""Random schedules against the channel core, in virtual time: whatever the module sends and
whatever the callers do, no transition is illegal, every call is settled exactly once and by its
own deadline, and a stream's bytes are a prefix of what the module sent for it.

A small module plays along: it echoes each line the core writes, and answers it (or not, or
late) at random; probes get ``ERROR``; between those it sends payload chunks of a known byte
sequence, reports, restarts and noise. A restart may cut a chunk: the module then says nothing
for 2 s (booting), and nothing until the core noticed the lost frame: bytes that came within a
cut chunk's length, with reading paused at the cut, would be taken as its data (the serial
line has no checksum: docs/reliability.md, limits). Each seed reproduces its run.
"""

from __future__ import annotations

import random

import pytest
from core_sink import Sink

from n58aio.channel.core import (
    SYNC_PROBE_PREFIX,
    ChannelCore,
    PauseReading,
    ResumeReading,
    Settle,
    Write,
)

BODY = bytes(range(256)) * 64
ANSWERS = [b"\r\nOK\r\n", b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n", b"\r\nERROR\r\n"]
NOISE = [b"\r\n+PBREADY\r\n", b"\x00\xff garbage\r\n", b"\r\nOK\r\n"]


def run(seed: int, steps: int = 80) -> None:
    rng = random.Random(seed)
    core = ChannelCore(baudrate=115200)
    core.resync_grace = 0.5
    core.module_data_timeout = 2.0
    now = 0.0
    deadlines: dict[int, float] = {}
    settled: dict[int, float] = {}
    cancelled: set[int] = set()
    written: list[bytes] = []  # lines the module has not answered yet
    sink: Sink | None = None
    sent_offset = 0  # bytes of BODY sent in chunks for the current sink
    silent_until = 0.0  # after a restart cut a chunk, the module says nothing for a while
    cut = False

    def pull() -> None:
        for action in core.take_actions():
            if isinstance(action, Settle):
                assert action.call_id not in settled, "settled twice"
                assert action.call_id not in cancelled, "a cancelled call was settled"
                assert now <= deadlines[action.call_id] + 1e-9, "settled after its deadline"
                settled[action.call_id] = now
            elif isinstance(action, Write):
                if action.data.endswith(b"\r"):
                    written.append(action.data)
            elif isinstance(action, PauseReading | ResumeReading):
                pass

    def advance(to: float) -> None:
        nonlocal now
        while True:
            deadline = core.next_deadline()
            if deadline is None or deadline > to:
                break
            now = max(now, deadline)
            core.tick(now)
            pull()
        now = max(now, to)
        core.tick(now)
        pull()

    for _ in range(steps):
        choice = rng.random()
        if choice < 0.25:
            timeout = rng.choice([0.2, 1.0, 5.0])
            command = rng.choice(["AT", "ATI", "AT+CSQ", "AT+HTTPSETUP"])
            data = b"body" if rng.random() < 0.1 else None
            if data is not None:
                command = "AT+HTTPACTION=2,4,1"
            call = core.submit(command, now, timeout=timeout, data=data)
            deadlines[call] = now + timeout
        elif choice < 0.3 and deadlines:
            call = rng.choice(list(deadlines))
            if call not in settled and call not in cancelled:
                cancelled.add(call)
                core.cancel(call, now)
        elif choice < 0.73 and (now < silent_until or (cut and sink and not sink.finished)):
            pass  # the module is booting: it sends nothing (and forgets what it was sent)
        elif choice < 0.55 and written:
            line = written.pop(0)
            answer = line
            if line.startswith(SYNC_PROBE_PREFIX.encode()):
                answer += b"\r\nERROR\r\n"
            elif line == b"ATE1\r" or line == b"ATE0\r":
                answer += b"\r\nOK\r\n"
            elif rng.random() < 0.8:
                answer += rng.choice(ANSWERS)
            core.receive(answer, now)
        elif choice < 0.65 and not (sink is not None and cut and not sink.finished):
            if sink is None or sink.finished:
                cut = False
                sink = Sink(rng.choice([64, 1 << 20]))
                sent_offset = 0
                core.open_stream("HTTP", sink)
            size = rng.randint(1, 200)
            part = BODY[sent_offset : sent_offset + size]
            sent_offset += len(part)
            wire = b"\r\n+HTTPRECV: %d," % len(part) + part + b"\r\n"
            if rng.random() < 0.2:  # the module restarts in the middle of the chunk
                core.receive(wire[: rng.randint(1, len(wire) - 1)], now)
                written.clear()
                silent_until = now + 2.0
                cut = True  # the restarted module never sends the rest of that response
            else:
                core.receive(wire, now)
        elif choice < 0.7 and sink is not None:
            sink.unread = 0
            core.drained(now)
        elif choice < 0.73:
            core.receive(rng.choice(NOISE), now)
        else:
            advance(now + rng.choice([0.05, 0.3, 1.0, 3.0]))
        pull()
        if sink is not None:
            assert bytes(sink.data) == BODY[: len(sink.data)], "a stream got a wrong byte"
    advance(now + 60.0)
    if sink is not None:
        sink.unread = 0
        core.drained(now)
        pull()
    advance(now + 60.0)
    for call, deadline in deadlines.items():
        if call not in cancelled:
            assert call in settled, f"call {call} never settled (deadline {deadline})"


@pytest.mark.parametrize("seed", range(300))
def test_random_schedule(seed: int) -> None:
    run(seed)
