"""Integration tests of the channel over a real pseudo-terminal with a scripted peer.

The library opens the pty's slave with :func:`n58aio.open_modem` (pyserial-asyncio); the
:class:`~scripted_peer.ScriptedPeer` plays the modem on the master side. Every test runs under
``asyncio.timeout`` so that nothing can hang; the peer's script runs in the same task group as
the host, so a failed expectation of the peer fails the test at once. The peer helper is in
``scripted_peer.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import tracemalloc
from collections.abc import Iterator

import anyio
import pytest
from scripted_peer import scripted_modem

import n58aio
import n58aio.channel.channel as channel_module
from n58aio import CommandError, CommandTimeout, LinkClosedError, PortClosedError
from n58aio.channel import ByteDecoder, PayloadStream
from n58aio.channel.port import READ_SIZE

ECHO = pytest.mark.parametrize("echo", [False, True], ids=["echo-off", "echo-on"])
GRACE = 0.5


@pytest.fixture
def fast_resync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shorten the wait for a late reply before the resync probe (2 s by default)."""
    monkeypatch.setattr(channel_module, "_RESYNC_GRACE", GRACE)
    yield


async def drain(stream: PayloadStream[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def settle() -> None:
    """Let callbacks scheduled with call_soon run."""
    for _ in range(5):
        await asyncio.sleep(0)


# ---------------------------------------------------------------------- commands


@ECHO
async def test_commands_and_replies(echo: bool) -> None:
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):

        async def script() -> None:
            await peer.answer("AT+CSQ", "+CSQ: 20,99")
            await peer.answer("ATE0")
            await peer.answer("AT+CGMI", "Neoway", "N58")
            await peer.answer("AT+XIIC?", "+XIIC:    1,10.107.216.162")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            reply = await modem.command("AT+CSQ")
            assert reply.lines == ["+CSQ: 20,99"]
            assert reply.final == "OK"
            assert (await modem.command("ATE0")).lines == []
            assert (await modem.command("AT+CGMI")).lines == ["Neoway", "N58"]
            link = await modem.command("AT+XIIC?")
            assert link.lines == ["+XIIC:    1,10.107.216.162"]
        assert peer.received == b"AT+CSQ\rATE0\rAT+CGMI\rAT+XIIC?\r"


async def test_commands_are_sent_one_at_a_time() -> None:
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
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


# ---------------------------------------------------------------------- timeouts and resync


@ECHO
async def test_timeout_when_the_peer_stays_silent(echo: bool, fast_resync: None) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=echo) as (peer, modem):
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CSQ"))
            with pytest.raises(CommandTimeout) as caught:
                await modem.command("AT+CSQ", timeout=0.3)
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 2
        assert caught.value.command == "AT+CSQ"
        assert modem.channel.needs_resync

        # The next command first resynchronises: no late reply comes, so a probe goes out.
        async def script() -> None:
            await peer.answer("AT+CMEE?", "+CMEE: 1")
            await peer.answer("AT+CGSN", "869012345678901")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CGSN")).lines == ["869012345678901"]
        assert not modem.channel.needs_resync


@ECHO
async def test_late_reply_during_the_grace_is_not_the_next_reply(
    echo: bool, fast_resync: None
) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=echo) as (peer, modem):
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CSQ"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CSQ", timeout=0.3)
        second = asyncio.create_task(modem.command("AT+CSQ"))
        await asyncio.sleep(0.1)
        assert peer.unread == b""  # waiting for the late reply before sending anything
        await peer.reply("+CSQ: 20,99")  # the late reply of the first command
        # it closes the first exchange: the second command goes out without a probe
        await peer.answer("AT+CSQ", "+CSQ: 31,0")
        assert (await second).lines == ["+CSQ: 31,0"]


@ECHO
async def test_late_reply_before_the_next_command_is_not_its_reply(
    echo: bool, fast_resync: None
) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=echo) as (peer, modem):
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CSQ"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CSQ", timeout=0.3)
        await peer.reply("+CSQ: 20,99")
        await asyncio.sleep(0.1)

        async def script() -> None:
            await peer.answer("AT+CMEE?", "+CMEE: 1")
            await peer.answer("AT+CSQ", "+CSQ: 31,0")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 31,0"]


@ECHO
async def test_late_reply_after_the_probe_is_sent(echo: bool, fast_resync: None) -> None:
    """The slow command's reply (a plain line and OK) arrives after the probe went out, and
    the probe's own answer comes later: neither the late OK nor the probe's OK may be taken
    as a reply to the command after it."""
    async with asyncio.timeout(15), scripted_modem(echo=echo) as (peer, modem):
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+CGSN"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CGSN", timeout=0.3)

        async def script() -> None:
            await peer.expect("AT+CMEE?")
            await peer.reply("869012345678901")  # late: the first AT+CGSN's reply
            await asyncio.sleep(0.2)
            await peer.reply("+CMEE: 1")  # the probe's answer
            await peer.answer("AT+CGSN", "111111111111111")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CGSN")).lines == ["111111111111111"]


@ECHO
async def test_cancel_mid_command_then_recovery(echo: bool, fast_resync: None) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=echo) as (peer, modem):
        cancelled = asyncio.create_task(modem.command("AT+CSQ", timeout=10))
        await peer.expect("AT+CSQ")
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert modem.channel.needs_resync

        async def script() -> None:
            # the grace runs out; then the late OK of the cancelled command, then the probe's
            await peer.expect("AT+CMEE?")
            await peer.reply("+CSQ: 20,99")
            await asyncio.sleep(0.1)
            await peer.reply("+CMEE: 1")
            await peer.answer("AT+CSQ", "+CSQ: 31,0")

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 31,0"]
        assert not modem.channel.needs_resync
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT"))
            assert (await modem.command("AT")).lines == []


async def test_cancel_then_late_reply_within_the_grace(fast_resync: None) -> None:
    async with asyncio.timeout(15), scripted_modem() as (peer, modem):
        cancelled = asyncio.create_task(modem.command("AT+CSQ", timeout=10))
        await peer.expect("AT+CSQ")
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        second = asyncio.create_task(modem.command("AT+CSQ"))
        await asyncio.sleep(0.1)
        await peer.reply("+CSQ: 20,99")
        await peer.answer("AT+CSQ", "+CSQ: 31,0")
        assert (await second).lines == ["+CSQ: 31,0"]


async def test_stray_final_between_commands_is_ignored() -> None:
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
        await peer.reply(final="OK")
        await peer.reply(final="ERROR")
        await asyncio.sleep(0.1)
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CSQ", "+CSQ: 5,5"))
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 5,5"]


# ---------------------------------------------------------------------- reports


@ECHO
async def test_reports_during_a_command_reach_callbacks_and_iterators(echo: bool) -> None:
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
        creg: list[str] = []
        everything: list[str] = []
        unsubscribe = modem.on_urc("+CREG", creg.append)
        modem.on_urc("", everything.append)
        reports = modem.urcs()
        http_reports = modem.urcs("+HTTP")

        async def script() -> None:
            await peer.expect("AT+CSQ")
            wire = (
                b"\r\n+PBREADY\r\n\r\n+CREG: 1\r\n\r\n+CSQ: 20,99\r\n"
                b"\r\nGPRS DISCONNECTION\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n\r\nOK\r\n"
            )
            await peer.send(wire, piece=5)

        async with asyncio.TaskGroup() as group:
            group.create_task(script())
            reply = await modem.command("AT+CSQ")
        assert reply.lines == ["+CSQ: 20,99"]
        expected = ["+PBREADY", "+CREG: 1", "GPRS DISCONNECTION", "+HTTPCLOSED: HTTP Link Closed"]
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):

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
        assert peer.received == b"AT+HTTPACTION=2,5\r" + data + b"AT\r"


@ECHO
async def test_prompt_exchange_failure(echo: bool) -> None:
    data = b"x" * 10
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):

        async def script() -> None:
            await peer.expect("AT+HTTPACTION=2,10")
            await peer.send(b"\r\n> ")
            assert await peer.read_exactly(len(data)) == data
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
    async with asyncio.timeout(10), scripted_modem(echo=echo) as (peer, modem):
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
    """Receive mode 0: the consumer's framing ends the response; what follows is parsed."""
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

    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", LengthDecoder(len(body)))
        reports = modem.urcs()
        await peer.send(b"\r\n+HTTPRECV:\r\n" + body + b"\r\n+PBREADY\r\n")
        assert await drain(stream) == body
        assert await anext(reports) == "+PBREADY"
        assert not modem.channel.parser.in_raw_mode
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT"))
            assert (await modem.command("AT")).final == "OK"


async def test_raw_mode_ended_by_a_split_link_closed_report() -> None:
    """Bytes passed as raw data before the report was recognised are retracted."""
    body = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody\r\n"
    closed = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
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
    async with asyncio.timeout(60), scripted_modem() as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
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
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
        stream = modem.channel.open_stream("HTTPS", ByteDecoder())
        receiving = asyncio.create_task(stream.receive())
        await asyncio.sleep(0.05)
        peer.close()
        with pytest.raises(PortClosedError):
            await receiving
        with pytest.raises(PortClosedError):
            await stream.receive()


async def test_stream_end_is_end_of_stream() -> None:
    async with asyncio.timeout(10), scripted_modem() as (peer, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        await peer.send(recv(b"x") + b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")
        assert await stream.receive() == b"x"
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
