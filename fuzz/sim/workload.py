"""Random schedules of gateway-like work on one channel, through its public API only.

Actors run concurrently for :attr:`Profile.duration` virtual seconds, each drawing from its own
``random.Random`` (seeded from the run's seed): **commanders** send ``AT``, ``ATI``, ``AT+CSQ``,
``AT+CGMR``, an unknown command, with short or default timeouts, and sometimes cancel their
call; a **streamer** sets up HTTP links and downloads the server's response in receive mode 1
(a GET, or a custom request written after the ``>`` prompt) with a consumer that stalls, gives
up on a slow item, or abandons the stream; a **resyncer** calls ``resync()``; a **listener**
subscribes to every report. Every call, stream item and report goes through the
:class:`~fuzz.sim.check.Checker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass

import anyio

from n58aio.channel import ByteDecoder, ModemChannel, PayloadStream, Reply
from n58aio.errors import N58Error

from .check import Checker, Violation
from .line import SimLine

__all__ = ["PROFILES", "Profile", "Workload"]

END_WAIT = 120.0
"""Seconds after the run's end that a consumer without a timeout still waits."""
LOOKALIKES = (b"\r\nOK\r\n", b"AT+CSQ\r", b"\r\n+HTTPRECV: 9,", b"\r\n>", b"plain")
COMMANDS = ("AT", "ATI", "AT+CSQ", "AT+CGMR", "AT+CSQ", "AT+N58NOSUCH")
SETUP = (
    "AT+HTTPPARA=url,http://origin.test/sim",
    "AT+HTTPPARA=port,80",
    "AT+HTTPPARA=keepalive,0",
    "AT+HTTPPARA=recvmode,1",
)


@dataclass(frozen=True)
class Profile:
    """What a schedule may contain (the dice of the workload and of the module)."""

    name: str
    duration: float = 20.0
    commanders: tuple[int, int] = (1, 2)
    think: float = 0.3  # mean pause between a commander's calls
    timeouts: tuple[float | None, ...] = (None, 1.0, 2.0, 5.0)
    cancel_chance: float = 0.0
    streams: bool = True
    response_size: tuple[int, int] = (200, 20000)
    stall_chance: float = 0.0
    stall_time: tuple[float, float] = (0.5, 10.0)
    abandon_chance: float = 0.0
    item_timeout: tuple[float | None, ...] = (None, 5.0)
    resync_chance: float = 0.0
    busy_chance: float = 0.0
    duplicate_final_chance: float = 0.0
    noise_chance: float = 0.0
    loss_chance: float = 0.0
    rx_noise_chance: float = 0.0
    echo_while_busy: bool = True
    server_stall_chance: float = 0.0
    restarts: tuple[int, int] = (0, 0)
    post_chance: float = 0.0  # a download is a custom request (AT+HTTPACTION=99 and data)
    echo_off_chance: float = 0.0
    cmee_chance: float = 0.0
    os_buffer: tuple[int, ...] = (4096,)
    max_buffer: tuple[int, ...] = (65536,)


PROFILES: dict[str, Profile] = {
    # what today's channel is expected to survive: no faults, an attentive consumer
    "calm": Profile(
        "calm", echo_off_chance=0.3, cmee_chance=0.5, timeouts=(None, 5.0), post_chance=0.3
    ),
    # a module busy for seconds, short timeouts, cancelled calls (#22 items 2 and 3)
    "busy": Profile(
        "busy",
        busy_chance=0.15,
        cancel_chance=0.15,
        timeouts=(None, 0.5, 1.0, 2.0),
        streams=False,
        cmee_chance=0.5,
    ),
    # the same, on a module that echoes a line only when it reads it, after answering the one
    # before (no echo while busy: the assumption of the channel's echo rule, docs/reliability.md)
    "busy_echo_late": Profile(
        "busy_echo_late",
        echo_while_busy=False,
        busy_chance=0.15,
        cancel_chance=0.15,
        timeouts=(None, 0.5, 1.0, 2.0),
        streams=False,
        cmee_chance=0.5,
    ),
    # streams with stalling and abandoning consumers while commands poll (#22 item 1)
    "stall": Profile(
        "stall",
        server_stall_chance=0.02,
        stall_chance=0.05,
        abandon_chance=0.02,
        item_timeout=(None, 2.0, 12.0),
        timeouts=(None, 1.0, 2.0),
        os_buffer=(1024, 4096),
        max_buffer=(1024, 4096, 16384),
        response_size=(2000, 60000),
    ),
    # a bad line and a restarting module
    "noisy": Profile(
        "noisy",
        post_chance=0.3,
        loss_chance=0.01,
        rx_noise_chance=0.01,
        noise_chance=0.02,
        duplicate_final_chance=0.05,
        restarts=(0, 2),
        resync_chance=0.05,
    ),
    # everything at once
    "full": Profile(
        "full",
        post_chance=0.2,
        loss_chance=0.005,
        rx_noise_chance=0.005,
        server_stall_chance=0.01,
        busy_chance=0.05,
        cancel_chance=0.1,
        stall_chance=0.03,
        abandon_chance=0.02,
        item_timeout=(None, 2.0, 12.0),
        timeouts=(None, 0.5, 1.0, 2.0, 5.0),
        noise_chance=0.01,
        duplicate_final_chance=0.03,
        restarts=(0, 1),
        resync_chance=0.03,
        echo_off_chance=0.2,
        cmee_chance=0.5,
        os_buffer=(1024, 4096, 16384),
        max_buffer=(1024, 4096, 65536),
        response_size=(200, 40000),
    ),
}


class Workload:
    """The actors of one run (see the module docstring)."""

    def __init__(
        self,
        channel: ModemChannel,
        line: SimLine,
        checker: Checker,
        profile: Profile,
        seed: int,
    ) -> None:
        self.channel = channel
        self.line = line
        self.checker = checker
        self.profile = profile
        self.seed = seed
        self.loop = asyncio.get_running_loop()
        self.stop_at = self.loop.time() + profile.duration
        self.streams_done = 0
        self.streams_complete = 0
        self.sent_data: list[bytes] = []
        self.reports = 0
        self.events: Counter[str] = Counter()
        """What the run got up to: cancels, stalls, abandons, custom requests, read pauses."""

    def rng(self, actor: str) -> random.Random:
        """The actor's own dice, from the run's seed."""
        return random.Random(f"{self.seed}/{actor}")

    async def run(self) -> None:
        """Run every actor to its end."""
        rng = self.rng("workload")
        actors = [self._settings(rng)]
        for index in range(rng.randint(*self.profile.commanders)):
            actors.append(self._commander(self.rng(f"commander{index}")))
        if self.profile.streams:
            actors.append(self._streamer(self.rng("streamer")))
        if self.profile.resync_chance:
            actors.append(self._resyncer(self.rng("resyncer")))
        tasks = [self.loop.create_task(actor) for actor in actors]
        listener = self.loop.create_task(self._listen())
        # a broken invariant in the listener stops the actors at once (its trace ends there)
        listener.add_done_callback(lambda _: [task.cancel() for task in tasks])
        try:
            try:
                await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                if not listener.done() or listener.cancelled():
                    raise
                listener.result()  # the listener's violation
                raise
        finally:
            for task in [*tasks, listener]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        self.checker.uploads(self.sent_data)

    async def _listen(self) -> None:
        """Subscribe to every report and check each (the subscription ends with the run)."""
        subscription = self.channel.subscribe("")
        try:
            async for line in subscription:
                self.reports += 1
                self.checker.report(line)
        except N58Error:
            pass
        finally:
            subscription.close()

    # ------------------------------------------------------------------ calls
    async def command(
        self,
        command: str,
        timeout: float | None,
        cancel_after: float | None = None,
        *,
        data: bytes | None = None,
    ) -> object:
        """Call ``channel.command`` and check how and when it ended; return the outcome."""
        loop = self.loop
        started = loop.time()
        limit = timeout if timeout is not None else self.channel.default_timeout(command, data)
        self.line.trace(f"call {command} timeout={timeout} cancel_after={cancel_after}")
        task = loop.create_task(self.channel.command(command, timeout=timeout, data=data))
        cancelled_at: float | None = None
        if cancel_after is not None:
            done, _ = await asyncio.wait({task}, timeout=cancel_after)
            if not done:
                cancelled_at = loop.time()
                task.cancel()
                self.events["cancel"] += 1
        outcome: object
        try:
            outcome = await task
        except asyncio.CancelledError:
            if not task.cancelled() or cancelled_at is None:
                task.cancel()
                raise
            outcome = asyncio.CancelledError()
        except Exception as exc:  # checked below: anything but an N58Error is a violation
            outcome = exc
        ended = loop.time()
        self.line.trace(f"end  {command}: {_show(outcome)} after {ended - started:.3f} s")
        if cancelled_at is not None and isinstance(outcome, asyncio.CancelledError):
            self.checker.bounded(f"{command} (cancelled)", cancelled_at, ended, 0.0)
            return outcome
        self.checker.bounded(command, started, ended, limit)
        self.checker.outcome(command, started, outcome)
        return outcome

    async def _settings(self, rng: random.Random) -> None:
        profile = self.profile
        if rng.random() < profile.cmee_chance:
            await self.command(f"AT+CMEE={rng.choice((0, 1))}", None)
        if rng.random() < profile.echo_off_chance:
            await self.command("ATE0", None)

    async def _commander(self, rng: random.Random) -> None:
        profile = self.profile
        while self.loop.time() < self.stop_at:
            await asyncio.sleep(rng.expovariate(1 / profile.think))
            command = rng.choice(COMMANDS)
            timeout = rng.choice(profile.timeouts)
            cancel = None
            if profile.cancel_chance and rng.random() < profile.cancel_chance:
                cancel = rng.uniform(0.0, 1.5)
            await self.command(command, timeout, cancel)

    async def _resyncer(self, rng: random.Random) -> None:
        while self.loop.time() < self.stop_at:
            await asyncio.sleep(rng.uniform(0.5, 5.0))
            if rng.random() < self.profile.resync_chance * 10:
                self.line.trace("call resync()")
                try:
                    await self.channel.resync()
                except N58Error as exc:
                    self.line.trace(f"end  resync(): {_show(exc)}")
                except Exception as exc:
                    raise Violation("error-type", f"resync() raised {exc!r}") from exc

    # ------------------------------------------------------------------ streams
    async def _streamer(self, rng: random.Random) -> None:
        while self.loop.time() < self.stop_at:
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            await self._download(rng)

    async def _download(self, rng: random.Random) -> None:
        profile = self.profile
        timeout = rng.choice(profile.timeouts)
        for line in SETUP:
            if not await self._ok(line, timeout):
                return
        if not await self._ok("AT+HTTPSETUP", rng.choice((None, 2.0, 5.0))):
            await self._ok("AT+HTTPCLOSE", None)
            return
        stream = self.channel.open_stream(
            "HTTP", ByteDecoder(), max_buffer=rng.choice(profile.max_buffer)
        )
        action, data = "AT+HTTPACTION=0", None
        if profile.post_chance and rng.random() < profile.post_chance:
            data = b"GET /sim HTTP/1.1\r\nHost: origin.test\r\nX: %s\r\n\r\n" % (
                rng.choice(LOOKALIKES)
            )
            action = f"AT+HTTPACTION=99,{len(data)}"
            self.events["custom request"] += 1
            self.sent_data.append(data)
        if not await self._ok(action, rng.choice((None, 5.0)), data):
            self.channel.close_stream(stream)
            await self._ok("AT+HTTPCLOSE", None)
            return
        complete = await self._consume(rng, stream)
        self.streams_done += 1
        self.streams_complete += complete
        if not complete:
            await self._ok("AT+HTTPCLOSE", None)

    async def _ok(self, command: str, timeout: float | None, data: bytes | None = None) -> bool:
        return isinstance(await self.command(command, timeout, data=data), Reply)

    async def _consume(self, rng: random.Random, stream: PayloadStream[bytes]) -> bool:
        profile = self.profile
        server = self.line.module.response
        item_timeout = rng.choice(profile.item_timeout)
        got = bytearray()
        name = f"stream {self.streams_done}"
        while True:
            if profile.stall_chance and rng.random() < profile.stall_chance:
                stall = rng.uniform(*profile.stall_time)
                self.line.trace(f"{name}: consumer stalls {stall:.3f} s at byte {len(got)}")
                self.events["stall"] += 1
                await asyncio.sleep(stall)
            if profile.abandon_chance and rng.random() < profile.abandon_chance:
                self.line.trace(f"{name}: consumer abandons at byte {len(got)}")
                self.events["abandon"] += 1
                self.channel.close_stream(stream)
                return False
            started = self.loop.time()
            try:
                if item_timeout is None:
                    # a consumer without a timeout waits for the end of a stream whose last
                    # report noise may have taken: it gives up when the run is over
                    wait = max(0.0, self.stop_at + END_WAIT - self.loop.time())
                    try:
                        item = await asyncio.wait_for(stream.receive(), wait)
                    except TimeoutError:
                        self.line.trace(f"{name}: the run is over, consumer leaves")
                        self.channel.close_stream(stream)
                        return False
                else:
                    item = await stream.receive(timeout=item_timeout)
            except anyio.EndOfStream:
                self.checker.stream_end(name, bytes(got), server)
                self.line.trace(f"{name}: complete, {len(got)} B")
                return True
            except TimeoutError as exc:
                if isinstance(exc, N58Error):
                    raise Violation("error-type", f"{name}: receive raised {exc!r}") from exc
                assert item_timeout is not None
                self.checker.bounded(f"{name} receive", started, self.loop.time(), item_timeout)
                self.line.trace(f"{name}: consumer gives up waiting at byte {len(got)}")
                self.channel.close_stream(stream)
                return False
            except N58Error as exc:
                self.line.trace(f"{name}: failed at byte {len(got)}: {_show(exc)}")
                return False
            except Exception as exc:
                raise Violation("error-type", f"{name}: receive raised {exc!r}") from exc
            if item_timeout is not None:
                self.checker.bounded(f"{name} receive", started, self.loop.time(), item_timeout)
            self.checker.stream_item(name, bytes(got), item, server)
            got += item


def _show(outcome: object) -> str:
    text = repr(outcome)
    return text if len(text) < 100 else text[:97] + "..."
