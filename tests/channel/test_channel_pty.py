"""Integration tests of the channel over a real pseudo-terminal with a scripted peer.

The library opens the pty's slave with :func:`n58aio.open_modem` (pyserial-asyncio); the
:class:`~scripted_peer.ScriptedPeer` plays the modem on the master side. Every test runs under
``asyncio.timeout`` so that nothing can hang; the peer's script runs in the same task group as
the host, so a failed expectation of the peer fails the test at once. The peer helper is in
``scripted_peer.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from scripted_peer import ScriptedPeer, scripted_modem

import n58aio
import n58aio.channel.channel as channel_module
from n58aio import CommandError, CommandTimeout, LinkClosedError, PortClosedError
from n58aio.channel import ByteDecoder, PayloadStream
from n58aio.channel.port import READ_SIZE

ECHO = pytest.mark.parametrize("echo", [False, True], ids=["echo-off", "echo-on"])
GRACE = 0.5


@pytest.fixture
def fast_resync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shorten the probe's timeout of the channels made in the test (2 s by default)."""
    monkeypatch.setattr(channel_module, "RESYNC_GRACE", GRACE)
    yield


@asynccontextmanager
async def session(
    echo: bool = True, **options: Any
) -> AsyncIterator[tuple[ScriptedPeer, n58aio.Modem]]:
    """A scripted modem already in step (its first probe answered), with the module's echo on
    or (``ATE0`` sent by the caller) off. ``peer.received[peer.mark:]`` is what came after."""
    async with scripted_modem(echo=True, **options) as (peer, modem):
        serving = asyncio.create_task(peer.read_command())  # answers ATE1, the probe, ATE0
        await modem.resync()
        if not echo:
            await modem.command("ATE0")
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        peer.mark = len(peer.received)
        yield peer, modem


async def drain(stream: PayloadStream[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def settle() -> None:
    """Let callbacks scheduled with call_soon run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls channel state that has no event
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------------- commands


async def test_the_channel_starts_out_of_step_and_probes_first() -> None:
    """Nothing is trusted before the first probe: echo is turned on (the module's echo may be
    off) and a probe with a random token goes out before the first command."""
    async with asyncio.timeout(10), scripted_modem(echo=False) as (peer, modem):
        assert modem.channel.needs_resync
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CSQ", "+CSQ: 20,99"))
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 20,99"]
        sent = bytes(peer.received)
        assert sent.startswith(b"ATE1\rAT+N58SYNC=")
        token = sent.split(b"\r")[1][len(b"AT+N58SYNC=") :]
        assert len(token) == 16 and int(token, 16) >= 0
        assert sent.endswith(b"\rAT+CSQ\r")
        assert not modem.channel.needs_resync
        assert modem.channel.parser.echo is True


async def test_every_probe_carries_a_fresh_token() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        serving = asyncio.create_task(peer.read_command())
        for _ in range(3):
            await modem.resync()
        serving.cancel()
        lines = bytes(peer.received).split(b"\r")
        tokens = [line for line in lines if line.startswith(b"AT+N58SYNC=")]
        assert len(tokens) == 4 and len(set(tokens)) == 4


@ECHO
async def test_commands_and_replies(echo: bool) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):

        async def script() -> None:
            await peer.answer("AT+CSQ", "+CSQ: 20,99")
            await peer.answer("AT+CGMI", "Neoway", "N58")
            await peer.answer("AT+XIIC?", "+XIIC:    1,10.107.216.162")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            reply = await modem.command("AT+CSQ")
            assert reply.lines == ["+CSQ: 20,99"]
            assert reply.final == "OK"
            assert (await modem.command("AT+CGMI")).lines == ["Neoway", "N58"]
            link = await modem.command("AT+XIIC?")
            assert link.lines == ["+XIIC:    1,10.107.216.162"]
        assert peer.received[peer.mark :] == b"AT+CSQ\rAT+CGMI\rAT+XIIC?\r"
        assert modem.channel.parser.echo is echo


async def test_commands_are_sent_one_at_a_time() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        first = asyncio.create_task(modem.command("AT+CSQ"))
        second = asyncio.create_task(modem.command("AT+CGSN"))
        await peer.expect("AT+CSQ")
        await asyncio.sleep(0.1)
        assert peer.unread == b""  # the second waits for the first's final result
        await peer.reply("+CSQ: 1,2")
        await peer.answer("AT+CGSN", "869012345678901")
        assert (await first).lines == ["+CSQ: 1,2"]
        assert (await second).lines == ["869012345678901"]


@ECHO
@pytest.mark.parametrize(
    ("final", "code"),
    [("+CME ERROR: 1001", 1001), ("ERROR", None), ("+CME ERROR: PDP not active", None)],
)
async def test_error_results(echo: bool, final: str, code: int | None) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+FILEHTTPACTION=0", final=final))
            with pytest.raises(CommandError) as caught:
                await modem.command("AT+FILEHTTPACTION=0")
        assert caught.value.code == code
        assert caught.value.text == final
        assert caught.value.command == "AT+FILEHTTPACTION=0"
        # the channel is still in step
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT"))
            assert (await modem.command("AT")).final == "OK"


@ECHO
@pytest.mark.parametrize(
    ("command", "final"),
    [
        ("AT+HTTPSETUP", "+HTTPSETUP: FAIL"),
        ("AT+HTTPACTION=0", "+HTTPACTION: SOCKET ID OPEN FAILED"),
        ("AT+HTTPACTION=0", "+HTTPACTION:SOCKET ID OPEN FAILED"),
    ],
)
async def test_failure_reply_ends_the_command_at_once(echo: bool, command: str, final: str) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        # the manual's timeout of these commands is 30 s: the failure must not wait for it
        assert modem.channel.default_timeout(command) >= 30
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer(command, final=final))
            with pytest.raises(CommandError) as caught:
                await modem.command(command)
        assert time.monotonic() - started < 3
        assert caught.value.text == final
        assert caught.value.code is None


# ---------------------------------------------------------------------- late and stray replies


async def test_a_duplicate_final_does_not_answer_the_next_command() -> None:
    """Echo on: an OK that comes before a command's echo answers nothing."""
    async with asyncio.timeout(10), session() as (peer, modem):
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CSQ", "+CSQ: 20,99"))
            await modem.command("AT+CSQ")
        await asyncio.sleep(0.3)
        await peer.reply(final="OK")  # a duplicate OK, 0.3 s later
        await peer.reply(final="ERROR")
        await asyncio.sleep(0.1)

        async def script() -> None:
            await peer.expect("ATI")
            await asyncio.sleep(0.1)
            await peer.reply("Neoway", "N58", "Revision: X")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("ATI")).lines == ["Neoway", "N58", "Revision: X"]
        assert modem.channel.stray_replies == 2
        assert not modem.channel.needs_resync


async def test_a_stray_final_racing_the_next_command_answers_nothing() -> None:
    """A late OK and a late line already on the line when the next command is written come
    before that command's echo: they answer nothing, the command waits for its own answer."""
    async with asyncio.timeout(10), session() as (peer, modem):
        peer.echo = False  # this exchange writes the echo by hand, after the late reply
        task = asyncio.create_task(modem.command("AT+CGSN"))
        await peer.expect("AT+CGSN")
        await peer.send(b"\r\nOK\r\n\r\n111\r\n")
        await asyncio.sleep(0.1)
        assert not task.done()
        await peer.send(b"AT+CGSN\r\r\n869012345678901\r\n\r\nOK\r\n")
        assert (await task).lines == ["869012345678901"]
        assert modem.channel.stray_replies == 1


@ECHO
async def test_timeout_when_the_peer_stays_silent(echo: bool, fast_resync: None) -> None:
    async with asyncio.timeout(15), session(echo) as (peer, modem):
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CSQ"))
            with pytest.raises(CommandTimeout) as caught:
                await modem.command("AT+CSQ", timeout=0.3)
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 2
        assert caught.value.command == "AT+CSQ"
        # A probe goes out at once, in the background, and proves the channel in step.
        probes = peer.probes
        script = asyncio.create_task(peer.answer("AT+CGSN", "869012345678901"))
        await wait_for(lambda: not modem.channel.needs_resync)
        assert peer.probes == probes + 1
        assert (await modem.command("AT+CGSN")).lines == ["869012345678901"]
        await script
        assert modem.channel.parser.echo is echo  # echo off again after the probe


@ECHO
async def test_late_reply_after_the_probe_is_sent(echo: bool, fast_resync: None) -> None:
    """The slow command's reply (a plain line and OK) arrives after the probe went out: the
    late OK is not the probe's, and nothing is taken for the reply of the next command."""
    async with asyncio.timeout(15), session(echo) as (peer, modem):
        peer.auto_sync = False
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CGSN"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CGSN", timeout=0.3)

        async def script() -> None:
            _, blind = await peer.read_probe()  # echoed by the peer (echo on)
            await peer.reply("869012345678901")  # late: the first AT+CGSN's reply
            await asyncio.sleep(0.2)
            for _ in range(blind):
                await peer.reply()  # then ATE1's OK: a module answers lines in order
            await peer.reply(final="ERROR")  # the probe's answer
            if not echo:
                await peer.answer("ATE0")
                peer.echo = False
            await peer.answer("AT+CGSN", "111111111111111")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CGSN")).lines == ["111111111111111"]


async def test_a_late_answer_to_a_callers_own_probe_like_command(fast_resync: None) -> None:
    """A caller's AT+CMEE? answered late once fooled the old probe (AT+CMEE?): the next ATI got
    an empty reply. With the token probe, the late answer answers nothing."""
    async with asyncio.timeout(15), session() as (peer, modem):
        peer.auto_sync = False
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CMEE?"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CMEE?", timeout=0.3)

        async def script() -> None:
            _, blind = await peer.read_probe()
            await peer.send(b"\r\n+CMEE: 1\r\n\r\nOK\r\n")  # late, after the probe's echo
            for _ in range(blind):
                await peer.reply()  # the ATE1 before the probe
            await asyncio.sleep(0.1)
            await peer.reply(final="ERROR")
            await peer.answer("ATI", "Neoway", "N58")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("ATI")).lines == ["Neoway", "N58"]


async def test_a_module_that_answers_error_to_everything_unknown_is_usable() -> None:
    """The probe expects any final result after its echo (ERROR for an unknown command)."""
    async with asyncio.timeout(10), session() as (peer, modem):
        script = asyncio.create_task(peer.answer("AT"))
        for _ in range(3):
            await modem.resync()
        assert (await modem.command("AT")).final == "OK"
        await script
        assert modem.channel.resyncs == 4


@ECHO
async def test_cancel_mid_command_then_recovery(echo: bool, fast_resync: None) -> None:
    async with asyncio.timeout(15), session(echo) as (peer, modem):
        cancelled = asyncio.create_task(modem.command("AT+CSQ", timeout=10))
        await peer.expect("AT+CSQ")
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert modem.channel.needs_resync
        await peer.reply("+CSQ: 20,99")  # the cancelled command's answer
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CSQ", "+CSQ: 31,0"))
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 31,0"]
        assert peer.probes <= 2 if echo else peer.probes == 2
        assert not modem.channel.needs_resync
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT"))
            assert (await modem.command("AT")).lines == []


async def test_stray_final_between_commands_is_ignored() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        await peer.reply(final="OK")
        await peer.reply(final="ERROR")
        await asyncio.sleep(0.1)
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CSQ", "+CSQ: 5,5"))
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 5,5"]


# ---------------------------------------------------------------------- reports


@ECHO
async def test_reports_during_a_command_reach_callbacks_and_iterators(echo: bool) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        creg: list[str] = []
        everything: list[str] = []
        unsubscribe = modem.on_urc("+CREG", creg.append)
        modem.on_urc("", everything.append)
        reports = modem.urcs()
        http_reports = modem.urcs("+HTTP")

        async def script() -> None:
            await peer.expect("AT+CSQ")
            # (with echo off, a restart report inside the reply would turn the echo on: what
            # followed would need an echo to count, so that variant sends RING instead)
            first = b"+PBREADY" if echo else b"RING"
            wire = (
                b"\r\n" + first + b"\r\n\r\n+CREG: 1\r\n\r\n+CSQ: 20,99\r\n"
                b"\r\nGPRS DISCONNECTION\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n\r\nOK\r\n"
            )
            await peer.send(wire, piece=5)

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            reply = await modem.command("AT+CSQ")
        assert reply.lines == ["+CSQ: 20,99"]
        expected = [
            "+PBREADY" if echo else "RING",
            "+CREG: 1",
            "GPRS DISCONNECTION",
            "+HTTPCLOSED: HTTP Link Closed",
        ]
        assert [await anext(reports) for _ in expected] == expected
        assert await anext(http_reports) == "+HTTPCLOSED: HTTP Link Closed"
        await settle()
        assert creg == ["+CREG: 1"]
        assert everything == expected
        unsubscribe()
        reports.close()
        await peer.send(b"\r\n+CREG: 2\r\n")
        await asyncio.sleep(0.1)
        assert creg == ["+CREG: 1"]
        assert everything[-1] == "+CREG: 2"
        assert [line async for line in reports] == []  # closed: iteration ends


@ECHO
async def test_callback_that_sends_a_command_does_not_deadlock(echo: bool) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        results: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()

        async def on_registration(line: str) -> None:
            reply = await modem.command("AT+CREG?", reply_match=lambda text: "," in text)
            await results.put((line, reply.lines))

        def broken(line: str) -> None:
            raise RuntimeError("a callback's failure must not reach the reader")

        modem.on_urc("+CREG:", on_registration)
        modem.on_urc("+CREG:", broken)

        async def script() -> None:
            await peer.expect("AT+CSQ")
            await peer.send(b"\r\n+CREG: 1\r\n")  # the report arrives inside the reply
            await asyncio.sleep(0.05)
            await peer.reply("+CSQ: 20,99")
            await peer.answer("AT+CREG?", "+CREG: 0,1")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 20,99"]
            assert await results.get() == ("+CREG: 1", ["+CREG: 0,1"])


@ECHO
async def test_report_sharing_the_reply_prefix(echo: bool) -> None:
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        reports = modem.urcs("+CREG")

        async def script() -> None:
            await peer.answer("AT+CREG?", "+CREG: 1", "+CREG: 0,1")
            await peer.answer("AT+CREG?", "+CREG: 0,5", "+CREG: 2")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            first = await modem.command("AT+CREG?", reply_match=lambda line: "," in line)
            second = await modem.command("AT+CREG?", max_reply_lines=1)
        assert first.lines == ["+CREG: 0,1"]
        assert second.lines == ["+CREG: 0,5"]
        assert [await anext(reports), await anext(reports)] == ["+CREG: 1", "+CREG: 2"]


# ---------------------------------------------------------------------- prompt


@ECHO
@pytest.mark.parametrize("prompt", [b"\r\n>", b"\r\n> "], ids=["gt", "gt-space"])
async def test_prompt_exchange(echo: bool, prompt: bytes) -> None:
    data = b"ab\r\nc"
    async with asyncio.timeout(10), session(echo) as (peer, modem):

        async def script() -> None:
            await peer.expect("AT+HTTPACTION=2,5")
            await asyncio.sleep(0.1)
            assert peer.unread == b"", "data written before the prompt"
            await peer.send(prompt)
            assert await peer.read_exactly(len(data)) == data
            if echo:
                await peer.send(data)
            await peer.reply()
            await peer.answer("AT")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            reply = await modem.command("AT+HTTPACTION=2,5", data=data)
            assert reply.lines == []
            assert reply.final == "OK"
            assert (await modem.command("AT")).final == "OK"
        # exactly the command, the data, and the next command: nothing more
        assert peer.received[peer.mark :] == b"AT+HTTPACTION=2,5\r" + data + b"AT\r"


@ECHO
async def test_prompt_exchange_failure(echo: bool) -> None:
    data = b"x" * 10
    async with asyncio.timeout(10), session(echo) as (peer, modem):

        async def script() -> None:
            await peer.expect("AT+HTTPACTION=2,10")
            await peer.send(b"\r\n> ")
            assert await peer.read_exactly(len(data)) == data
            if echo:
                await peer.send(data)
            await peer.reply(final="+HTTPSEND: ERROR")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            with pytest.raises(CommandError) as caught:
                await modem.command("AT+HTTPACTION=2,10", data=data)
        assert caught.value.text == "+HTTPSEND: ERROR"


# ---------------------------------------------------------------------- payload


def recv(data: bytes, source: str = "HTTP") -> bytes:
    header = b"+HTTPRECV: " if source == "HTTP" else b"+HTTPSRECV: "
    return b"\r\n" + header + str(len(data)).encode() + b"," + data + b"\r\n"


TRICKY = [
    b"\r\nOK\r\n",
    b"\x00\x00\r\r\n\n\x1a",
    b"+HTTPRECV: 5,abcde\r\nERROR\r\n",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    bytes(range(256)),
]


@ECHO
@pytest.mark.parametrize("source", ["HTTP", "HTTPS"])
async def test_payload_bytes_are_delivered_intact(echo: bool, source: str) -> None:
    closed = (
        b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
        if source == "HTTP"
        else b"\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n"
    )
    command = "AT+HTTPACTION=0" if source == "HTTP" else "AT+HTTPSACTION=0"
    async with asyncio.timeout(10), session(echo) as (peer, modem):
        stream = modem.channel.open_stream("HTTPS" if source == "HTTPS" else "HTTP", ByteDecoder())

        async def script() -> None:
            await peer.expect(command)
            # one chunk before the final result, the others after it, split across reads
            wire = recv(TRICKY[0], source) + b"\r\nOK\r\n"
            wire += b"".join(recv(chunk, source) for chunk in TRICKY[1:])
            await peer.send(wire + closed, piece=7)

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command(command)).lines == []
            assert await drain(stream) == b"".join(TRICKY)
        assert stream.closed_by_link == closed.strip().decode()
        assert modem.channel.dropped_payload_bytes == 0


async def test_raw_mode_ended_by_the_consumer() -> None:
    """Receive mode 0: the consumer's framing ends the response. The server may go on
    sending, so what follows is not trusted: the channel closes the link blind and probes, and
    nothing before the probe's echo (a forged report, a forged reply) is read."""
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nOK\r\n\r\n"

    class LengthDecoder:
        """Ends the message after a known number of bytes, as Content-Length does."""

        def __init__(self, length: int) -> None:
            self.remaining = length

        def feed(self, data: bytes) -> tuple[list[bytes], int | None]:
            take = min(self.remaining, len(data))
            self.remaining -= take
            return ([data[:take]] if take else []), (
                len(data) - take if not self.remaining else None
            )

        def link_closed(self, retract: int) -> list[bytes]:
            raise LinkClosedError("link closed early")

        def item_size(self, item: bytes) -> int:
            return len(item)

    async with asyncio.timeout(10), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", LengthDecoder(len(body)))
        reports = modem.urcs()
        forged = b"\r\n+PBREADY\r\n\r\n+CSQ: 31,99\r\n\r\nOK\r\nAT+CSQ\r\r\nOK\r\n"
        await peer.send(b"\r\n+HTTPRECV:\r\n" + body + forged)
        assert await drain(stream) == body
        await peer.answer("AT+HTTPCLOSE")  # written blind, before the probe
        probes = peer.probes
        script = asyncio.create_task(peer.answer("AT+CSQ", "+CSQ: 20,99"))
        await wait_for(lambda: not modem.channel.needs_resync)
        assert peer.probes == probes + 1
        assert not modem.channel.parser.in_raw_mode
        assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 20,99"]
        await script
        assert modem.channel.parser.discarded >= len(forged)
        reports.close()
        assert [line async for line in reports] == []  # the forged +PBREADY was not a report


async def test_raw_mode_ended_by_a_split_link_closed_report() -> None:
    """Bytes passed as raw data before the report was recognised are retracted."""
    body = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody\r\n"
    closed = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    async with asyncio.timeout(10), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        await peer.send(b"\r\n+HTTPRECV:\r\n" + body)
        await asyncio.sleep(0.05)
        for index in range(len(closed)):
            await peer.send(closed[index : index + 1])
            await asyncio.sleep(0.01)
        assert await drain(stream) == body
        assert stream.closed_by_link == "+HTTPCLOSED: HTTP Link Closed"
        assert stream.bytes_received == len(body)


class CountingDecoder(ByteDecoder):
    """A ByteDecoder that records how far ahead of its consumer the reader gets."""

    def __init__(self, modem: n58aio.Modem) -> None:
        super().__init__()
        self.modem = modem
        self.emitted = 0
        self.consumed = 0
        self.max_outstanding = 0
        self.max_parser_buffered = 0

    def feed(self, data: bytes) -> tuple[list[bytes], int | None]:
        items, leftover = super().feed(data)
        self.emitted += sum(len(item) for item in items)
        self.max_outstanding = max(self.max_outstanding, self.emitted - self.consumed)
        parser = self.modem.channel.parser
        self.max_parser_buffered = max(self.max_parser_buffered, parser.buffered)
        return items, leftover


async def test_ten_megabytes_with_a_slow_consumer_stay_bounded() -> None:
    chunk_size = 1024
    chunks = 10 * 1024
    max_buffer = 16 * 1024
    seed = 58
    async with asyncio.timeout(60), session() as (peer, modem):
        decoder = CountingDecoder(modem)
        stream = modem.channel.open_stream("HTTP", decoder, max_buffer=max_buffer)

        async def script() -> str:
            await peer.answer("AT+HTTPACTION=0")
            rng = random.Random(seed)
            digest = hashlib.sha256()
            batch = []
            for index in range(chunks):
                data = rng.randbytes(chunk_size)
                digest.update(data)
                batch.append(b"+HTTPRECV: 1024," + data + b"\r\n")
                if len(batch) == 64 or index == chunks - 1:
                    await peer.send(b"".join(batch))
                    batch.clear()
            await peer.send(b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")
            return digest.hexdigest()

        async def consume() -> tuple[str, int]:
            digest = hashlib.sha256()
            total = 0
            megabytes = 0
            await asyncio.sleep(0.1)  # the slow consumer: late to start,
            async for item in stream:
                digest.update(item)
                total += len(item)
                decoder.consumed += len(item)
                if total // (1024 * 1024) > megabytes:
                    megabytes = total // (1024 * 1024)
                    await asyncio.sleep(0.1)  # stalling at every megabyte,
                else:
                    await asyncio.sleep(0)  # and yielding after every item
            return digest.hexdigest(), total

        tracemalloc.start()
        try:
            async with asyncio.TaskGroup() as group:
                sent = group.create_task(script())
                received = group.create_task(consume())
                assert (await modem.command("AT+HTTPACTION=0")).final == "OK"
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        digest, total = received.result()
        assert total == chunks * chunk_size
        assert digest == sent.result()
        # The reader stopped at the bound again and again, and never went far past it: the
        # chunks of one port read are delivered together, so the overshoot is one read at most.
        assert modem.channel.read_pauses >= 5  # at least at most of the ten stalls
        assert decoder.max_outstanding <= max_buffer + READ_SIZE + chunk_size
        # at most one read waits in the parser while reading is paused
        assert decoder.max_parser_buffered <= READ_SIZE + chunk_size
        assert modem.channel.dropped_payload_bytes == 0
        assert modem.channel.wire_errors == 0
        # and the memory of the whole transfer (both ends) stays far below its 10 MB
        assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


# ---------------------------------------------------------------------- the port vanishing


async def test_port_vanishing_fails_command_stream_and_reports() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        reports = modem.urcs()
        waiting = asyncio.create_task(modem.command("AT+HTTPACTION=0", timeout=8))
        await peer.expect("AT+HTTPACTION=0")
        await peer.send(b"\r\nOK\r\n" + recv(b"abc"))
        assert await waiting
        late = asyncio.create_task(modem.command("AT+CSQ", timeout=8))
        await peer.expect("AT+CSQ")
        peer.close()
        started = time.monotonic()
        with pytest.raises(PortClosedError):
            await late
        assert time.monotonic() - started < 3
        assert await stream.receive() == b"abc"  # what arrived before is still delivered
        with pytest.raises(PortClosedError):
            await stream.receive()
        with pytest.raises(PortClosedError):
            await anext(reports)
        assert modem.closed
        with pytest.raises(PortClosedError):
            await modem.command("AT")
        with pytest.raises(PortClosedError):
            modem.channel.open_stream("HTTP", ByteDecoder())


async def test_port_vanishing_fails_a_waiting_stream() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTPS", ByteDecoder())
        receiving = asyncio.create_task(stream.receive())
        await asyncio.sleep(0.05)
        peer.close()
        with pytest.raises(PortClosedError):
            await receiving
        with pytest.raises(PortClosedError):
            await stream.receive()


async def test_stream_end_is_end_of_stream() -> None:
    async with asyncio.timeout(10), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        await peer.send(recv(b"x") + b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")
        assert await stream.receive() == b"x"
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()


@pytest.mark.parametrize("extra", [400])  # (900,000 and the timing: tests/channel/test_core.py)
async def test_an_oversized_chunk_length_does_not_wedge_the_channel(extra: int) -> None:
    """``+HTTPRECV: <len+K>,<len bytes>`` then the close report (a one-digit error in the last
    chunk header): the chunk swallows what follows; the channel is back in step within
    seconds, however large K is (the probe's hunt leaves the chunk)."""
    async with asyncio.timeout(20), session() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        data = b"x" * 100
        closed = b"\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
        await peer.send(b"\r\n+HTTPRECV: %d," % (len(data) + extra) + data + closed)
        with pytest.raises(TimeoutError):
            await stream.receive(timeout=0.3)  # the chunk is not complete: nothing comes
        started = time.monotonic()
        script = asyncio.create_task(peer.answer("AT+CGMM", "N58"))
        with pytest.raises(CommandTimeout):  # its echo and reply are swallowed by the chunk
            await modem.command("AT+CGMM", timeout=0.5)
        await script
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CGMM", "N58"))
            assert (await modem.command("AT+CGMM")).lines == ["N58"]  # after the hunt
        assert time.monotonic() - started < 5
        assert not modem.channel.parser.in_payload
        modem.channel.close_stream(stream)
