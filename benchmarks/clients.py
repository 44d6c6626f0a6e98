"""Client workers, each run in a process of its own: ``python -m benchmarks.clients CASE JSON``.

A worker does one measurement and prints its result as the ``BENCH-RESULT`` line. CPU time
and peak RSS come from ``getrusage(RUSAGE_SELF)`` of the worker, so they are the client's own:
the emulators and the origin server live in helper processes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .common import Usage, emit_result, quiet_logging

__all__ = ["CASES"]

Result = dict[str, Any]


class _Checker:
    """Counts the body bytes and, when asked, compares them with the origin's pattern."""

    def __init__(self, verify: bool) -> None:
        self.verify = verify
        self.received = 0
        self.mismatch: int | None = None

    def add(self, chunk: bytes) -> None:
        if self.verify and self.mismatch is None:
            from n58aio.emulator.origin import pattern_bytes

            if chunk != pattern_bytes(self.received, len(chunk)):
                self.mismatch = self.received
        self.received += len(chunk)

    def expected(self, size: int) -> int:
        """The body size a request for ``size`` bytes must bring."""
        return size

    def check(self, size: int) -> None:
        if self.received != size:
            raise RuntimeError(f"received {self.received} bytes, expected {size}")
        if self.mismatch is not None:
            raise RuntimeError(f"content differs from the pattern near byte {self.mismatch}")


class _JsonChecker(_Checker):
    """Checks a decoded body against the origin's JSON document of ``size`` bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(verify=False)
        from n58aio.emulator.origin_coding import json_document

        self.document = json_document(size)

    def add(self, chunk: bytes) -> None:
        if (
            self.mismatch is None
            and chunk != self.document[self.received : self.received + len(chunk)]
        ):
            self.mismatch = self.received
        self.received += len(chunk)

    def expected(self, size: int) -> int:
        return len(self.document)


# ---------------------------------------------------------------------------- commands


async def _n58aio_commands(p: dict[str, Any]) -> Result:
    import n58aio

    async with n58aio.open_modem(p["device"]) as modem:
        for _ in range(p["warmup"]):
            await modem.command("AT")
        start = Usage.now()
        deadline = start.wall + p["seconds"]
        count = 0
        while time.perf_counter() < deadline:
            await modem.command("AT")
            count += 1
        usage = Usage.now().since(start)
    return {"commands": count, **usage}


def gsmmodem_commands(p: dict[str, Any]) -> Result:
    """``GsmModem.write('AT')`` in a loop, the port opened with its ``SerialComms`` layer."""
    from gsmmodem.modem import GsmModem
    from gsmmodem.serial_comms import SerialComms

    modem = GsmModem(p["device"], baudrate=115200)
    SerialComms.connect(modem)  # open the port and start the reader thread, no init sequence
    try:
        for _ in range(p["warmup"]):
            modem.write("AT")
        start = Usage.now()
        deadline = start.wall + p["seconds"]
        count = 0
        while time.perf_counter() < deadline:
            lines = modem.write("AT")
            if lines[-1] != "OK":
                raise RuntimeError(f"unexpected reply {lines!r}")
            count += 1
        usage = Usage.now().since(start)
    finally:
        modem.alive = False
        modem.close()
    return {"commands": count, **usage}


# ---------------------------------------------------------------------------- downloads


async def _n58aio_download(p: dict[str, Any]) -> Result:
    """One streamed GET of ``/bytes/<size>`` (or of ``path``, then ``expect`` decoded bytes,
    the JSON document's when ``json``), ``headers`` passed on."""
    import n58aio

    size: int = p["size"]
    url = f"{p['origin']}{p.get('path') or f'/bytes/{size}'}"
    checker: _Checker = _JsonChecker(size) if p.get("json") else _Checker(p["verify"])
    rates = {"baudrate": p["baudrate"]} if p.get("baudrate") else {}
    async with n58aio.open_modem(p["device"], recvmode=p.get("recvmode", 1), **rates) as modem:
        await modem.attach()
        line_rate = modem.line_rate
        start = Usage.now()
        read_before = modem.channel.bytes_read
        first: float | None = None
        first_len = 0
        headers = p.get("headers")
        async with modem.stream(
            "GET", url, **({"headers": headers} if headers else {})
        ) as response:
            encoding = response.headers.get("content-encoding")
            async for chunk in response.aiter_bytes():
                if first is None:
                    first, first_len = time.perf_counter(), len(chunk)
                checker.add(chunk)
        end = Usage.now()
        wire = modem.channel.bytes_read - read_before
    checker.check(checker.expected(size))
    return {
        "bytes": checker.received,
        "wire_bytes": wire,
        "body_wire_bytes": response.num_bytes_downloaded,
        "content_encoding": encoding,
        "body_wall": end.wall - (first or end.wall),
        "first_chunk": first_len,
        "line_rate": line_rate,
        **end.since(start),
    }


async def _pty_floor(p: dict[str, Any]) -> Result:
    """The least a Python client does: ``select``, then ``os.read`` until the pty is empty (as
    n58aio's transport reads), of the same download, nothing parsed (the link is set up with
    n58aio first, then the port is read raw)."""
    import os
    import select
    import tty
    from urllib.parse import urlsplit

    import n58aio

    size: int = p["size"]
    origin = urlsplit(p["origin"])
    async with n58aio.open_modem(p["device"]) as modem:
        await modem.attach()
        for line in (
            f"AT+HTTPPARA=url,{origin.hostname}/bytes/{size}",
            f"AT+HTTPPARA=port,{origin.port}",
            "AT+HTTPPARA=keepalive,0",
            "AT+HTTPPARA=recvmode,1",
            "AT+HTTPSETUP",
        ):
            await modem.command(line)
    fd = os.open(p["device"], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        start = Usage.now()
        os.write(fd, b"AT+HTTPACTION=0\r")
        total = 0
        tail = b""
        while b"+HTTPCLOSED:" not in tail:
            if not select.select([fd], [], [], 30.0)[0]:
                raise RuntimeError(f"no link-closed report after {total} bytes")
            got = 0
            while got < 65536:
                try:
                    data = os.read(fd, 65536 - got)
                except BlockingIOError:
                    break
                got += len(data)
                tail = (tail + data[-64:])[-64:]
            total += got
        end = Usage.now()
    finally:
        os.close(fd)
    if total < size:
        raise RuntimeError(f"read {total} bytes for a {size}-byte body")
    return {"bytes": size, "wire_bytes": total, **end.since(start)}


async def _pty_floor_many(p: dict[str, Any]) -> Result:
    """The paced floor: every link set up with n58aio, then the same download on all ptys at
    once read by one ``select`` loop and ``os.read`` until each pty is empty, nothing parsed."""
    import os
    import select
    import tty
    from urllib.parse import urlsplit

    import n58aio

    size: int = p["size"]
    origin = urlsplit(p["origin"])
    lines = (
        f"AT+HTTPPARA=url,{origin.hostname}/bytes/{size}",
        f"AT+HTTPPARA=port,{origin.port}",
        "AT+HTTPPARA=keepalive,0",
        "AT+HTTPPARA=recvmode,1",
        "AT+HTTPSETUP",
    )

    async def prepare(device: str) -> None:
        async with n58aio.open_modem(device) as modem:
            await modem.attach()
            for line in lines:
                await modem.command(line)

    await asyncio.gather(*(prepare(device) for device in p["devices"]))
    fds = [os.open(d, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK) for d in p["devices"]]
    totals = dict.fromkeys(fds, 0)
    tails = dict.fromkeys(fds, b"")
    try:
        for fd in fds:
            tty.setraw(fd)
        start = Usage.now()
        for fd in fds:
            os.write(fd, b"AT+HTTPACTION=0\r")
        open_fds = set(fds)
        while open_fds:
            ready = select.select(list(open_fds), [], [], 30.0)[0]
            if not ready:
                raise RuntimeError(f"no link-closed report after {sum(totals.values())} bytes")
            for fd in ready:
                got = 0
                while got < 65536:
                    try:
                        data = os.read(fd, 65536 - got)
                    except BlockingIOError:
                        break
                    got += len(data)
                    tails[fd] = (tails[fd] + data[-64:])[-64:]
                totals[fd] += got
                if b"+HTTPCLOSED:" in tails[fd]:
                    open_fds.discard(fd)
        end = Usage.now()
    finally:
        for fd in fds:
            os.close(fd)
    if min(totals.values()) < size:
        raise RuntimeError(f"read {min(totals.values())} bytes for a {size}-byte body")
    return {
        "modems": len(fds),
        "bytes": size * len(fds),
        "wire_bytes": sum(totals.values()),
        **end.since(start),
    }


async def _httpx_download(p: dict[str, Any]) -> Result:
    import httpx

    size: int = p["size"]
    url = f"{p['origin']}/bytes/{size}"
    checker = _Checker(p["verify"])
    async with httpx.AsyncClient() as client:
        await client.get(f"{p['origin']}/bytes/1")  # connection pool and imports warmed up
        start = Usage.now()
        first: float | None = None
        async with client.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                if first is None:
                    first = time.perf_counter()
                checker.add(chunk)
        end = Usage.now()
    checker.check(size)
    return {
        "bytes": checker.received,
        "body_wall": end.wall - (first or end.wall),
        **end.since(start),
    }


async def _n58aio_many(p: dict[str, Any]) -> Result:
    """All modems open in this one process, each downloading ``size`` bytes at once."""
    import contextlib

    import n58aio

    size: int = p["size"]
    url = f"{p['origin']}/bytes/{size}"
    checkers = [_Checker(p["verify"]) for _ in p["devices"]]
    async with contextlib.AsyncExitStack() as stack:
        modems = [
            await stack.enter_async_context(n58aio.open_modem(device)) for device in p["devices"]
        ]
        await asyncio.gather(*(modem.attach() for modem in modems))
        finished: list[float] = []

        async def fetch(modem: n58aio.Modem, checker: _Checker) -> None:
            async with modem.stream("GET", url) as response:
                async for chunk in response.aiter_bytes():
                    checker.add(chunk)
            finished.append(time.perf_counter())

        start = Usage.now()
        await asyncio.gather(*(fetch(m, c) for m, c in zip(modems, checkers, strict=True)))
        end = Usage.now()
    for checker in checkers:
        checker.check(size)
    return {
        "modems": len(modems),
        "bytes": sum(checker.received for checker in checkers),
        "first_done": min(finished) - start.wall,
        **end.since(start),
    }


def _sync(
    func: Callable[[dict[str, Any]], Coroutine[Any, Any, Result]],
) -> Callable[[dict[str, Any]], Result]:
    def run(p: dict[str, Any]) -> Result:
        return asyncio.run(func(p))

    return run


def _parser(p: dict[str, Any]) -> Result:
    from .parser_bench import parser_benchmark

    start = Usage.now()
    rows = parser_benchmark(p["total"], repeat=p["repeat"])
    return {"rows": rows, **Usage.now().since(start)}


CASES: dict[str, Callable[[dict[str, Any]], Result]] = {
    "parser": _parser,
    "n58aio_commands": _sync(_n58aio_commands),
    "gsmmodem_commands": gsmmodem_commands,
    "n58aio_download": _sync(_n58aio_download),
    "httpx_download": _sync(_httpx_download),
    "pty_floor": _sync(_pty_floor),
    "pty_floor_many": _sync(_pty_floor_many),
    "n58aio_many": _sync(_n58aio_many),
}


def main(argv: list[str] | None = None) -> int:
    """Run ``CASE`` with the JSON parameters; print the result line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in CASES:
        print(f"usage: python -m benchmarks.clients {{{','.join(CASES)}}} JSON", file=sys.stderr)
        return 2
    quiet_logging()
    emit_result(CASES[args[0]](json.loads(args[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
