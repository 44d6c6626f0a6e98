"""The client's own hot paths in process, without a pty: what the Python code costs.

``python -m benchmarks.inprocess [--compare DIR] [--runs N]`` measures, in fresh worker
processes (this tree's ``n58aio`` and, in turns, the one in ``DIR``):

- *round trip*: ``ModemChannel.command("AT")`` (and ``Modem.command``) against a transport
  that answers each line on the next loop turn (echo, then ``OK``; a probe gets ``ERROR``):
  the shell, the core, the parser and asyncio's two loop turns, no system call but the loop's
  ``epoll``;
- *payload*: a 20 MB ``Content-Length`` response as receive-mode-1 chunks of 1460 bytes, handed
  to ``ModemChannel.data_received`` in 32 KiB deliveries (one per loop turn, as the transport
  does) and read through the HTTP decoder, ``_Exchange.body`` and ``Response.aiter_bytes``;
- *bare asyncio*: a future set by a callback on the next loop turn, awaited by the task (the
  least a round trip through the loop costs).

CPU is ``time.process_time`` around the loop; each figure is the median of ``--runs``.
Over a pty the system calls and the other process's wake-ups come on top (the ``compare``
group of ``python -m benchmarks``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from .common import REPO_ROOT, quiet_logging, subprocess_env

__all__ = ["main", "measure"]

BODY = 20_000_000
DELIVERY = 32 * 1024
CHUNK = 1460
COMMANDS = 20_000


def _wire(body: int, delivery: int) -> list[bytes]:
    from n58aio.emulator.origin import pattern_bytes

    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body
    data = head + pattern_bytes(0, body)
    wire = b"".join(
        b"\r\n+HTTPRECV: %d," % len(data[pos : pos + CHUNK]) + data[pos : pos + CHUNK] + b"\r\n"
        for pos in range(0, len(data), CHUNK)
    )
    return [wire[pos : pos + delivery] for pos in range(0, len(wire), delivery)]


class _Transport(asyncio.Transport):
    """Answers each command line on the next loop turn; drops anything else."""

    def __init__(self, answer: Any = None) -> None:
        super().__init__()
        self.answer = answer

    def write(self, data: Any) -> None:
        if self.answer is not None:
            self.answer(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _round_trips(count: int, *, modem: bool = False) -> float:
    from n58aio.channel.channel import ModemChannel
    from n58aio.modem import Modem

    loop = asyncio.get_running_loop()
    channel = ModemChannel()

    def answer(line: bytes) -> None:
        final = b"ERROR" if line.startswith(b"AT+N58SYNC=") else b"OK"
        loop.call_soon(channel.data_received, line + b"\r\n" + final + b"\r\n")

    channel.connection_made(_Transport(answer))
    command = Modem(channel, url="in-process").command if modem else channel.command
    for _ in range(100):  # the probe, and a warm loop
        await command("AT")
    start = time.process_time()
    for _ in range(count):
        await command("AT")
    return (time.process_time() - start) / count


async def _payload(deliveries: list[bytes], body: int) -> float:
    import h11

    from n58aio.channel.channel import ModemChannel
    from n58aio.http.client import _Exchange
    from n58aio.http.decoder import HttpResponseDecoder
    from n58aio.http.headers import Headers
    from n58aio.http.response import Response
    from n58aio.http.timeouts import Timeouts

    loop = asyncio.get_running_loop()
    channel = ModemChannel()
    channel.connection_made(_Transport())
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "origin")]))
    connection.send(h11.EndOfMessage())
    decoder = HttpResponseDecoder(connection, raw=False)
    exchange = _Exchange(None, channel.open_stream("HTTP", decoder), decoder, Timeouts())  # type: ignore[arg-type]
    pending = iter(deliveries)

    def feed() -> None:  # one delivery per loop turn, as the transport's reader
        data = next(pending, None)
        if data is not None:
            channel.data_received(data)
            loop.call_soon(feed)

    async def closer() -> None:
        pass

    start = time.process_time()
    loop.call_soon(feed)
    head = await exchange.head()
    response = Response(
        status_code=head.status_code,
        reason=head.reason.decode(),
        http_version="1.1",
        headers=Headers(head.headers),
        url="http://origin/",
        method="GET",
        body=exchange.body,
        closer=closer,
    )
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
    seconds = time.process_time() - start
    if received != body:
        raise RuntimeError(f"received {received} of {body} bytes")
    return seconds


async def _bare(count: int) -> float:
    loop = asyncio.get_running_loop()
    start = time.process_time()
    for _ in range(count):
        future = loop.create_future()
        loop.call_soon(future.set_result, None)
        await future
    return (time.process_time() - start) / count


def measure(body: int = BODY, commands: int = COMMANDS) -> dict[str, float]:
    """One worker's figures: µs per round trip, ms per MB and µs per delivery of payload
    (logging as configured: the worker quietens it, a test keeps its own)."""
    deliveries = _wire(body, DELIVERY)
    payload = asyncio.run(_payload(deliveries, body))
    return {
        "round_trip_us": 1e6 * asyncio.run(_round_trips(commands)),
        "modem_round_trip_us": 1e6 * asyncio.run(_round_trips(commands, modem=True)),
        "payload_ms_per_mb": 1e3 * payload / (body / 1e6),
        "delivery_us": 1e6 * payload / len(deliveries),
        "bare_asyncio_us": 1e6 * asyncio.run(_bare(commands)),
    }


def _worker(path: str | None, body: int, commands: int) -> dict[str, float]:
    argv = [sys.executable, "-m", "benchmarks.inprocess", "--worker", str(body), str(commands)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=subprocess_env(path),
        cwd=path or REPO_ROOT,
        timeout=600,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point: the figures of this tree (and of ``--compare DIR``), medians of runs."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--worker"]:
        quiet_logging()
        print(json.dumps(measure(int(args[1]), int(args[2]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess")
    parser.add_argument("--compare", metavar="DIR", help="a directory holding another n58aio/")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--body", type=int, default=BODY)
    parser.add_argument("--commands", type=int, default=COMMANDS)
    options = parser.parse_args(args)
    trees: list[tuple[str, str | None]] = [("this tree", None)]
    if options.compare:
        trees.append((options.compare, options.compare))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    for _ in range(options.runs):
        for name, path in trees:  # in turns: a drifting load hits both alike
            runs[name].append(_worker(path, options.body, options.commands))
    for name, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(
            f"{name}: round trip {median['round_trip_us']:.1f} µs (Modem.command"
            f" {median['modem_round_trip_us']:.1f}, bare asyncio"
            f" {median['bare_asyncio_us']:.1f}); payload {median['payload_ms_per_mb']:.3f} ms/MB,"
            f" {median['delivery_us']:.1f} µs per {DELIVERY // 1024} KiB delivery"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
