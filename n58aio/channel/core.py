"""The channel's sans-IO core: the command exchange, trust and recovery, and payload routing.

:class:`ChannelCore` does no I/O and owns no clock, in the style of ``h11.Connection``. Its
caller (the asyncio shell :class:`~n58aio.channel.channel.ModemChannel`, a simulation, a test)
hands it inputs with the time they happened at, and carries out the :class:`Action` objects it
queues (:meth:`ChannelCore.take_actions`): bytes to write, outcomes for callers, reports, reading
paused or resumed. :meth:`ChannelCore.next_deadline` says when to call :meth:`ChannelCore.tick`.

Two clocks. A caller's timeout runs on the real clock: every call ends by its deadline, whatever
the channel is doing (waiting for a busy module, proving the line in step, waiting out a data
phase). Every wait on the *module* (its silence after a command, a probe, a chunk whose bytes stop
coming) runs on the *line clock*, which stops while the core keeps reading paused for a stream's
consumer: bytes the channel chose not to read are not the module's silence.

The states, each an enum with its transition table (see docs/architecture.md):

- :class:`Exchange`: what the command in flight waits for (``IDLE``, ``ECHO``, ``REPLY``,
  ``DATA``, ``ZOMBIE``: its caller is gone, its late answer is still its own);
- :class:`Trust`: whether the line is in step (``TRUSTED``), must be proven so by a probe before
  the next command (``SUSPECT``), or is read as noise until a probe's echo (``DISTRUSTED``);
- :class:`Recovery`: the background procedure that proves it (``IDLE``, ``DATA_WAIT``,
  ``SETTLE``, ``PROBE``).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import structlog

from ..commands.specs import (
    CLOSE_COMMAND,
    CLOSE_COMMANDS,
    DEFAULT_SPEC,
    LINK_CLOSED,
    RESTARTED,
    spec_for,
)
from ..errors import (
    CommandError,
    CommandTimeout,
    LinkClosedError,
    N58Error,
    PortClosedError,
    ProtocolError,
)
from ..redact import redact
from ..wire import (
    DEFAULT_MAX_LINE,
    REPORT_SHAPE,
    AtParser,
    Echo,
    FinalResult,
    InfoLine,
    NeedData,
    Payload,
    Prompt,
    RawData,
    RawEnd,
    RawStart,
    Source,
    Stray,
    Urc,
    WireError,
    command_name,
    encode_command,
)
from .answers import ECHO_HABIT_MOVES, OWED_MAX, AnswerQueue, EchoHabit, ErrorForm

__all__ = [
    "Action",
    "ChannelCore",
    "Exchange",
    "LinkClosed",
    "ModuleEvent",
    "ModuleRestarted",
    "Notify",
    "PauseReading",
    "Recovery",
    "Reply",
    "Report",
    "ResumeReading",
    "Settle",
    "StreamSink",
    "Trust",
    "Write",
    "sync_probe",
]

NUMERIC_ERRORS = "AT+CMEE=1"
"""What the recovery writes when the module's errors all look alike (the bring-up sets it too)."""
UNKNOWN_COMMAND = 58
"""The CME error code of a command the module does not know (the probe's answer, CMEE=1)."""
SYNC_PROBE_PREFIX = "AT+N58SYNC="
"""The probe's command: an extended command no module knows, followed by a random token."""
RESYNC_GRACE = 2.0
"""The default of :attr:`ChannelCore.resync_grace`, in seconds."""
RESYNC_ATTEMPTS = 3
"""Probes a recovery sends at least before it gives up."""
ECHO_ON_SETTLE = 0.2
"""Seconds between a blind ``ATE1`` and the probe that follows it."""
CHUNK_STALL = 1.0
"""Seconds of line silence in the middle of a payload chunk after which the chunk is a lost
frame (a restart cut it, or its length was wrong). The module writes a chunk in one go: while
reading is not paused, its bytes arrive without gaps (each read moves the mark)."""
_ECHO_SETTING = re.compile(r"^ATE([01]?)$")
_RECVMODE_SETTING = re.compile(r"^AT\+HTTP(S?)PARA=RECVMODE,([01])$")
_UNPROVEN_RESTART = "link lost: the module restarted, or a server's +PBREADY after a lost frame"
_PAYLOAD_NAMES = ("+HTTPRECV", "+HTTPSRECV")
_PROFILE_RESET = frozenset({"ATZ", "ATZ0", "AT&F", "AT&F0"})
_SETTING_PREFIXES = ("ATE", "AT+HTTP", "AT+CMEE=", "ATZ", "AT&F")
"""The commands :meth:`ChannelCore._track_settings` follows start so (closes: AT+HTTP...)."""


def sync_probe() -> str:
    """A fresh probe line: ``AT+N58SYNC=`` and 16 random hexadecimal digits."""
    return SYNC_PROBE_PREFIX + secrets.token_hex(8).upper()


# ---------------------------------------------------------------------------------- states
class Exchange(Enum):
    """The command in flight."""

    __hash__ = object.__hash__  # members are singletons: the C hash (hot path)

    IDLE = "idle"  # nothing written waits for an answer
    ECHO = "echo"  # written, its echo awaited (with echo on, nothing answers it before)
    REPLY = "reply"  # echo seen: reply lines and the final result awaited
    DATA = "data"  # the ">" prompt came: the data was written (or withheld), final awaited
    ZOMBIE = "zombie"  # its caller is gone; the module may still be working on it


class Trust(Enum):
    """Whether the line is in step with the module."""

    __hash__ = object.__hash__  # members are singletons: the C hash (hot path)

    TRUSTED = "trusted"  # every answer is the command's own
    SUSPECT = "suspect"  # a probe must prove the line in step before the next command
    DISTRUSTED = "distrusted"  # every byte is discarded until a probe's echo


class Recovery(Enum):
    """The background procedure that proves the line in step (one probe at a time)."""

    __hash__ = object.__hash__  # members are singletons: the C hash (hot path)

    IDLE = "idle"
    DATA_WAIT = "data_wait"  # the module may be in a data phase: wait until it gave up
    SETTLE = "settle"  # a blind ATE1 went out: let it take effect before the probe
    PROBE = "probe"  # a probe is in flight: it ends on its own error answer only


EXCHANGE_MOVES: dict[Exchange, frozenset[Exchange]] = {
    Exchange.IDLE: frozenset({Exchange.ECHO, Exchange.REPLY}),
    Exchange.ECHO: frozenset({Exchange.REPLY, Exchange.DATA, Exchange.ZOMBIE, Exchange.IDLE}),
    Exchange.REPLY: frozenset({Exchange.DATA, Exchange.ZOMBIE, Exchange.IDLE}),
    Exchange.DATA: frozenset({Exchange.ZOMBIE, Exchange.IDLE}),
    Exchange.ZOMBIE: frozenset({Exchange.IDLE}),
}
"""Allowed moves of :class:`Exchange` (checked at each move)."""

TRUST_MOVES: dict[Trust, frozenset[Trust]] = {
    Trust.TRUSTED: frozenset({Trust.SUSPECT, Trust.DISTRUSTED}),
    Trust.SUSPECT: frozenset({Trust.TRUSTED, Trust.DISTRUSTED}),
    Trust.DISTRUSTED: frozenset({Trust.TRUSTED}),
}
"""Allowed moves of :class:`Trust`: only a probe's answer makes the line trusted again."""

RECOVERY_MOVES: dict[Recovery, frozenset[Recovery]] = {
    Recovery.IDLE: frozenset({Recovery.DATA_WAIT, Recovery.SETTLE, Recovery.PROBE}),
    Recovery.DATA_WAIT: frozenset({Recovery.IDLE, Recovery.SETTLE, Recovery.PROBE}),
    Recovery.SETTLE: frozenset({Recovery.IDLE, Recovery.PROBE}),
    Recovery.PROBE: frozenset({Recovery.IDLE, Recovery.SETTLE, Recovery.PROBE}),
}
"""Allowed moves of :class:`Recovery` (PROBE to PROBE: the next probe after a silent one)."""


# ---------------------------------------------------------------------------------- data
@dataclass(frozen=True, slots=True)
class Reply:
    """A successful command's reply: its information ``lines`` and the ``final`` result."""

    command: str
    lines: list[str]
    final: str = "OK"


@dataclass(frozen=True, slots=True)
class ModuleRestarted:
    """The module reported a restart (``+PBREADY``): its links and settings are gone."""


@dataclass(frozen=True, slots=True)
class LinkClosed:
    """The module reported the ``source`` link closed with ``line``."""

    source: Source
    line: str


ModuleEvent = ModuleRestarted | LinkClosed


@dataclass(slots=True)
class Write:
    """Write ``data`` to the port."""

    data: bytes


@dataclass(slots=True)
class Settle:
    """Call ``call_id`` ended with ``outcome``."""

    call_id: int
    outcome: Reply | N58Error


@dataclass(frozen=True, slots=True)
class Report:
    """An unsolicited report line, for the report router."""

    line: str


@dataclass(frozen=True, slots=True)
class Notify:
    """A typed module event (published from here only)."""

    event: ModuleEvent


@dataclass(frozen=True, slots=True)
class PauseReading:
    """Stop reading the port: a stream's consumer fell behind."""


@dataclass(frozen=True, slots=True)
class ResumeReading:
    """Read the port again."""


Action = Write | Settle | Report | Notify | PauseReading | ResumeReading
_PAUSE = PauseReading()
_RESUME = ResumeReading()


class StreamSink(Protocol):
    """What the core needs of a payload stream (:class:`~n58aio.channel.streams.PayloadStream`):
    synchronous delivery, and whether its consumer fell behind."""

    @property
    def finished(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    bytes_received: int

    def deliver(self, data: bytes) -> int | None: ...

    def link_closed(self, line: str, retract: int = 0) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


@dataclass(slots=True, eq=False)
class Call:
    """A caller's request: a command, or a resynchronisation (``command`` None)."""

    id: int
    command: str | None
    line: bytes
    data: bytes | None
    timeout: float
    deadline: float  # real clock
    reply_prefix: str | None = None
    reply_match: Callable[[str], bool] | None = None
    max_reply_lines: int | None = None


@dataclass(slots=True, eq=False)
class _Flight:
    """The command written last and not answered yet (a call's, a probe, or the core's own)."""

    command: str
    data: bytes | None
    call: Call | None  # None: a probe, the core's own ATE0, or its caller is gone
    probe: bool
    sent_at: float  # real clock
    sent_line: float  # line clock
    line_deadline: float  # line clock: the module's silence bound
    lines: list[str] = field(default_factory=list)
    prompted: bool = False
    data_done: bool = False  # the data was written, or the module cannot be waiting for it
    final_seen: bool = False
    response_seen: bool = False  # payload of the response it requests arrived
    restart_deadline: float = math.inf  # line clock: a restart's grace for the answer


class ChannelCore:
    """The exchange, trust and recovery rules of the channel, driven by inputs and time."""

    def __init__(
        self,
        *,
        name: str = "modem",
        log: structlog.typing.FilteringBoundLogger | None = None,
        baudrate: int | None = None,
        timeout_slack: float = 0.5,
        max_line: int | None = None,
        echoes_data: bool = True,
        module_buffer: int = 65536,
    ) -> None:
        self.name = name
        self.log = log or structlog.get_logger("n58aio").bind(modem=name)
        check = getattr(self.log, "is_enabled_for", None)
        self._debug = True if check is None else bool(check(logging.DEBUG))
        """Whether debug events are wanted (their fields are not even built otherwise)."""
        self.baudrate = baudrate
        self.timeout_slack = timeout_slack
        self.module_buffer = module_buffer
        self.resync_grace = RESYNC_GRACE
        self.module_data_timeout = 30.0
        self.parser = AtParser(max_line=max_line or DEFAULT_MAX_LINE, merge_payload=True)
        self.parser.echoes_data = echoes_data
        # counters
        self.resyncs = 0
        self.stray_replies = 0
        self.wire_errors = 0
        self.dropped_payload_bytes = 0
        self.read_pauses = 0
        self.lost_frames = 0
        # state
        self.exchange = Exchange.IDLE
        self.trust = Trust.SUSPECT  # nothing is proven until the first probe answers
        self.recovery = Recovery.IDLE
        self.closed: PortClosedError | None = None
        self._flight: _Flight | None = None
        self._queue: deque[Call] = deque()
        self._next_id = 0
        self._eager = False  # recover now, not at the next command
        self._echo_wanted = True
        self._before_probe: list[str] = []
        # the lines written and not answered yet: which line a final answers (answers.py)
        self._answers = AnswerQueue(SYNC_PROBE_PREFIX)
        self._unknown_lines: set[str] = set()  # command lines the module does not know
        self._known_lines: set[str] = set()  # command lines the module answered OK
        self.error_form = ErrorForm.UNSEEN  # how the module answers a probe
        self.echo_habit = EchoHabit.UNSEEN  # when the module echoes a line
        self._numeric_errors_needed = False  # the next recovery writes AT+CMEE=1 first
        self._give_ups = 0  # recoveries in a row that gave up while the module kept pace
        self._pace_mark = (0, 0)  # both when the last recovery began
        self._owed_at_give_up = -1  # answers owed when the last recovery gave up
        self._data_risk_until = 0.0  # real clock
        self._streams: dict[Source, StreamSink] = {}
        self._discard_marks: dict[Source, int] = {}  # parser.discarded when each was opened
        # Families whose response may still be arriving with no stream to take it (closed,
        # failed, or never opened): until its link is closed, text amid it is its lost frames.
        self._orphans: set[Source] = set()
        self._closed_links: set[Source] = set()  # reported closed, no stream opened since
        self._recvmode: dict[Source, int] = {}  # as set by AT+HTTP(S)PARA=recvmode,N
        self._actions: list[Action] = []
        # the line clock: real time less the time reading was kept paused
        self._paused = False
        self._paused_at = 0.0
        self._paused_total = 0.0
        self._last_rx = 0.0  # line clock
        # the recovery in progress
        self._rec_deadline = 0.0  # line clock: give up after this (and RESYNC_ATTEMPTS probes)
        self._rec_attempt = 0
        self._rec_hunt = False
        self._rec_until = 0.0  # DATA_WAIT: real clock; SETTLE: line clock
        self._rec_probe = ""
        self._rec_started = 0.0  # real clock

    # ------------------------------------------------------------------ views
    @property
    def paused(self) -> bool:
        """True while the core keeps reading paused (a stream's consumer fell behind)."""
        return self._paused

    @property
    def needs_resync(self) -> bool:
        """True until a probe has proven the line in step."""
        return self.trust is not Trust.TRUSTED or self.recovery is not Recovery.IDLE

    @property
    def queued(self) -> int:
        """Calls waiting for their turn."""
        return len(self._queue)

    def line_time(self, size: int) -> float:
        """Seconds that ``size`` bytes take on the line (0 when the rate is unknown)."""
        return size * 10 / self.baudrate if self.baudrate else 0.0

    def line_now(self, now: float) -> float:
        """The line clock at real time ``now``: it stops while reading is kept paused."""
        if self._paused:
            return self._paused_at - self._paused_total
        return now - self._paused_total

    def _due(self, line_deadline: float, now: float) -> bool:
        """Whether a line-clock deadline has passed at real time ``now`` (never while paused).
        The same sum as in :meth:`next_deadline`, so that a tick at that time finds it due."""
        return not self._paused and line_deadline + self._paused_total <= now

    def default_timeout(self, command: str, data: bytes | None = None) -> float:
        """The manual's timeout for ``command``, plus slack and the line time of the bytes."""
        timeout = spec_for(command).timeout + self.timeout_slack
        if self.baudrate:
            size = len(command) + 1 + (len(data) if data else 0)
            timeout += 2 * size * 10 / self.baudrate  # out, and the echo back
        return timeout

    def take_actions(self) -> list[Action]:
        """The actions queued since the last call, oldest first (the caller carries them out)."""
        actions = self._actions
        if not actions:
            return actions
        self._actions = []
        return actions

    def next_deadline(self) -> float | None:
        """The real time at which :meth:`tick` has something to do, or None."""
        flight = self._flight
        in_payload = self.parser.in_payload
        if flight is None and not self._queue and not in_payload and self.recovery is Recovery.IDLE:
            return None  # (the common case between commands and during downloads)
        deadline = math.inf
        for call in self._queue:
            if call.deadline < deadline:
                deadline = call.deadline
        if flight is not None and flight.call is not None and flight.call.deadline < deadline:
            deadline = flight.call.deadline
        if self.recovery is Recovery.DATA_WAIT and self._rec_until < deadline:
            deadline = self._rec_until
        if not self._paused:  # the line clock stands still while paused
            line = math.inf
            if flight is not None:
                line = min(flight.line_deadline, flight.restart_deadline)
            if self.recovery is Recovery.SETTLE:
                line = min(line, self._rec_until)
            if in_payload:
                line = min(line, self._stall_deadline())
            deadline = min(deadline, line + self._paused_total)
        return None if deadline == math.inf else deadline

    # ------------------------------------------------------------------ inputs: callers
    def submit(
        self,
        command: str,
        now: float,
        *,
        timeout: float | None = None,
        data: bytes | None = None,
        reply_prefix: str | None = None,
        reply_match: Callable[[str], bool] | None = None,
        max_reply_lines: int | None = None,
    ) -> int:
        """Queue ``command`` (its line is validated now); return the call's id. Its outcome
        comes as a :class:`Settle` action, by ``now + timeout`` at the latest."""
        line = encode_command(command)
        if timeout is None:
            timeout = self.default_timeout(command, data)
        self._check_open()
        call = Call(
            self._new_id(),
            command,
            line,
            data,
            timeout,
            now + timeout,
            reply_prefix,
            reply_match,
            max_reply_lines,
        )
        self._queue.append(call)
        self._pump(now)
        return call.id

    def submit_resync(self, now: float) -> int:
        """Queue a resynchronisation: it settles with a :class:`Reply` once a probe proved the
        line in step, or with :class:`~n58aio.errors.CommandTimeout` when none came back."""
        self._check_open()
        call = Call(self._new_id(), None, b"", None, math.inf, math.inf)
        self._queue.append(call)
        self._pump(now)
        return call.id

    def cancel(self, call_id: int, now: float) -> None:
        """The caller of ``call_id`` is gone (cancelled): no outcome is sent for it."""
        for call in self._queue:
            if call.id == call_id:
                self._queue.remove(call)
                self._pump(now)
                return
        flight = self._flight
        if flight is not None and flight.call is not None and flight.call.id == call_id:
            self.log.info("command.cancelled", command=redact(flight.command))
            self._abandon(flight, now, timed_out=False)
            self._settle_input(now)

    def write_blind(self, command: str, now: float) -> None:
        """Write ``command`` at once, unanswered (the last resort for a module that answers
        nothing); the line is suspect afterwards."""
        self._check_open()
        line = encode_command(command)
        self.log.warning("command.blind", command=redact(command))
        self._actions.append(Write(line))
        self._written(command)
        self._suspect()

    def line_rate_changed(self, baudrate: int) -> None:
        """The host port now runs at ``baudrate``: the line is suspect until a probe."""
        self.baudrate = baudrate
        self._suspect()

    def distrust(self, reason: str, now: float, *, before_probe: Iterable[str] = ()) -> None:
        """Stop trusting the line now (see :meth:`ModemChannel.distrust`)."""
        self._lose_trust(reason, before_probe, now, expected=False)
        self._settle_input(now)

    def close(self, exc: PortClosedError) -> None:
        """The port is gone: every call and stream fails with ``exc``."""
        if self.closed is not None:
            return
        self.closed = exc
        flight, self._flight = self._flight, None
        if flight is not None and flight.call is not None:
            self._settle(flight.call, exc)
        while self._queue:
            self._settle(self._queue.popleft(), exc)
        for stream in list(self._streams.values()):
            stream.fail(exc)
        self._streams.clear()

    # ------------------------------------------------------------------ inputs: streams
    def open_stream(self, source: Source, stream: StreamSink) -> None:
        """Route the next payload of ``source`` to ``stream``."""
        self._check_open()
        current = self._streams.get(source)
        if current is not None and not current.finished:
            raise RuntimeError(f"a {source} payload stream is already open")
        self._streams[source] = stream
        self._discard_marks[source] = self.parser.discarded
        self._orphans.discard(source)
        self._closed_links.discard(source)

    def close_stream(self, stream: StreamSink, now: float) -> None:
        """Stop routing payload to ``stream``; later payload of its family is dropped."""
        for source, current in list(self._streams.items()):
            if current is stream:
                del self._streams[source]
                if not stream.finished:
                    self._orphans.add(source)
        self.drained(now)

    def drained(self, now: float, *, process: bool = True) -> bool:
        """A stream's consumer caught up (or a stream went): resume reading if none is behind,
        and (``process``) go on with the bytes the parser holds. True when reading resumed."""
        resumed = self._resume_if_drained(now)
        if resumed and process:
            self._settle_input(now)
        return resumed

    def process_pending(self, now: float) -> None:
        """Go on with the bytes the parser holds (after :meth:`drained` without ``process``)."""
        self._settle_input(now)

    def _resume_if_drained(self, now: float) -> bool:
        if self._paused and not any(stream.paused for stream in self._streams.values()):
            self._paused = False
            self._paused_total += now - self._paused_at
            self._actions.append(_RESUME)
            return True
        return False

    def _settle_input(self, now: float) -> None:
        """After an input other than bytes: process what the parser still holds, then start
        what can start."""
        if not self._paused and self.parser.buffered and self.closed is None:
            self._process(now)
        self._pump(now)

    # ------------------------------------------------------------------ inputs: the line
    def receive(self, data: bytes, now: float) -> None:
        """Bytes read from the port."""
        self._last_rx = now - self._paused_total
        self.parser.receive_data(data)
        self._process(now)
        if self._actions or self.exchange is Exchange.IDLE:
            self._pump(now)

    def tick(self, now: float) -> None:
        """Time passed: expire what is due at ``now``."""
        if self.closed is not None:
            return
        for late in [call for call in self._queue if call.deadline <= now]:
            self._queue.remove(late)
            self._settle(late, CommandTimeout(late.command or _PROBE_NAME, late.timeout))
        due = self._due
        flight = self._flight
        if flight is not None:
            call = flight.call
            if call is not None and call.deadline <= now:
                self.log.warning(
                    "command.timeout", command=redact(flight.command), timeout=call.timeout
                )
                self._settle(call, CommandTimeout(flight.command, call.timeout))
                self._abandon(flight, now, timed_out=True)
            elif due(flight.restart_deadline, now):
                self._lost_to_restart(flight, now)
            elif due(flight.line_deadline, now):
                self._silent(flight, now)
        if self.recovery is Recovery.DATA_WAIT and self._rec_until <= now:
            self._after_data_wait(now)
        elif self.recovery is Recovery.SETTLE and due(self._rec_until, now):
            self._write_probe(now)
        if self.parser.in_payload and due(self._stall_deadline(), now):
            self.lost_frames += 1
            self._lose_trust(
                "a payload chunk stopped arriving (lost frame)", (), now, expected=False
            )
        self._settle_input(now)

    # ------------------------------------------------------------------ the exchange
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _check_open(self) -> None:
        if self.closed is not None:
            raise self.closed

    def _move(self, to: Exchange) -> None:
        if to not in EXCHANGE_MOVES[self.exchange]:
            raise AssertionError(f"exchange {self.exchange.value} -> {to.value}")
        self.exchange = to

    def _set_trust(self, to: Trust) -> None:
        if to is not self.trust:
            if to not in TRUST_MOVES[self.trust]:
                raise AssertionError(f"trust {self.trust.value} -> {to.value}")
            self.trust = to

    def _set_echo_habit(self, to: EchoHabit) -> None:
        if to is not self.echo_habit:
            if to not in ECHO_HABIT_MOVES[self.echo_habit]:
                raise AssertionError(f"echo habit {self.echo_habit.value} -> {to.value}")
            self.log.info("module.echo_habit", habit=to.value)
            self.echo_habit = to

    def _set_recovery(self, to: Recovery) -> None:
        if to is not self.recovery or to is Recovery.PROBE:
            if to not in RECOVERY_MOVES[self.recovery]:
                raise AssertionError(f"recovery {self.recovery.value} -> {to.value}")
            self.recovery = to

    def _settle(self, call: Call, outcome: Reply | N58Error) -> None:
        self._actions.append(Settle(call.id, outcome))

    def _suspect(self) -> None:
        if self.trust is Trust.TRUSTED:
            self._set_trust(Trust.SUSPECT)

    def _pump(self, now: float) -> None:
        """Start what can start: the recovery when the line is not trusted, else the next call."""
        if self.closed is not None or self.recovery is not Recovery.IDLE:
            return
        exchange = self.exchange
        if exchange is not Exchange.IDLE and exchange is not Exchange.ZOMBIE:
            return
        queue = self._queue
        if exchange is Exchange.ZOMBIE:
            flight = self._flight
            assert flight is not None
            if not self._due(flight.line_deadline, now) and self.trust is Trust.TRUSTED:
                return  # its answer may still be coming (reading was kept paused)
            self._suspect()
        if queue and queue[0].command is None and self.trust is Trust.TRUSTED:
            self._set_trust(Trust.SUSPECT)  # resync() on a trusted line: prove it anyway
        if self.trust is not Trust.TRUSTED:
            if queue or self._eager:
                self._start_recovery(now)
            return
        while queue:
            call = queue[0]
            if call.command is None:  # the line is trusted: a resync is done
                queue.popleft()
                self._settle(call, Reply(_PROBE_NAME, [], "OK"))
                continue
            if self.parser.in_raw_mode and command_name(call.command) not in CLOSE_COMMANDS:
                return  # a receive-mode-0 response is coming: only its close may go
            if self.parser.payload_source in self._closed_links:
                # A chunk after its link was reported closed is no response's: a header forged
                # or damaged into being, taken by count, would take a line written now, its
                # echo and reply as data. It stalls, and the line is probed first.
                return
            queue.popleft()
            self._send(call, now)
            return

    def _send(self, call: Call, now: float) -> None:
        command = call.command
        assert command is not None
        self.parser.begin_command(
            command,
            reply_prefix=call.reply_prefix,
            reply_match=call.reply_match,
            max_reply_lines=call.max_reply_lines,
            data=call.data,
        )
        line_now = self.line_now(now)
        self._flight = _Flight(
            command, call.data, call, False, now, line_now, line_now + call.timeout
        )
        self._move(Exchange.ECHO)
        if self._debug:
            self.log.debug("command.sent", command=redact(command))
        self._actions.append(Write(call.line))
        self._written(command)

    def _send_own(self, command: str, now: float) -> None:
        """An exchange of the core's own (``ATE0`` after a probe): nobody waits for it."""
        self.parser.begin_command(command)
        line_now = self.line_now(now)
        timeout = self.resync_grace + self.line_time(2 * len(command) + 2)
        self._flight = _Flight(command, None, None, False, now, line_now, line_now + timeout)
        self._move(Exchange.ECHO)
        self._actions.append(Write(encode_command(command)))
        self._written(command)

    def _abandon(self, flight: _Flight, now: float, *, timed_out: bool) -> None:
        """The caller of the command in flight is gone: it becomes a zombie. After a timeout the
        module keeps the rest of its own time (on the line clock: time reading was kept paused
        is not its silence); after a cancellation the line is suspect at once."""
        flight.call = None
        self._note_data_risk(flight, now)
        if self.exchange is not Exchange.ZOMBIE:
            self._move(Exchange.ZOMBIE)
        if not timed_out:
            flight.line_deadline = self.line_now(now)
        if not timed_out or self._due(flight.line_deadline, now):
            self._suspect()
            self._eager = True

    def _silent(self, flight: _Flight, now: float) -> None:
        """The module said nothing to the command in flight for its whole time (line clock)."""
        if flight.probe:
            self._probe_unanswered(now)
            return
        if flight.call is not None:  # (the caller's deadline comes first: defensive)
            self._settle(flight.call, CommandTimeout(flight.command, flight.call.timeout))
            flight.call = None
            self._note_data_risk(flight, now)
        if self.exchange is not Exchange.ZOMBIE:
            self._move(Exchange.ZOMBIE)
        flight.line_deadline = math.inf
        self._suspect()
        self._eager = True

    def _lost_to_restart(self, flight: _Flight, now: float) -> None:
        flight.restart_deadline = math.inf
        self.log.warning("command.lost", command=redact(flight.command))
        self._answers.forget(flight.command)  # the restart lost it: no answer comes
        if flight.call is not None:
            self._settle(flight.call, CommandError(flight.command, RESTARTED))
        self._flight = None
        self._move(Exchange.IDLE)
        self._suspect()
        self._eager = True

    def _note_data_risk(self, flight: _Flight, now: float) -> None:
        """A data command that ended without its data written and without the module's own
        answer may have left the module in its data phase: remember until when."""
        if flight.data is not None and not flight.data_done and not flight.final_seen:
            until = now + self.module_data_timeout + self.timeout_slack
            self._data_risk_until = max(self._data_risk_until, until)

    def _track_settings(self, command: str) -> None:
        """Follow the module settings the parser relies on, as set by successful commands."""
        text = command.upper()
        if " " in text:
            text = text.replace(" ", "")
        if not text.startswith(_SETTING_PREFIXES):
            return  # (most commands: the one test on the hot path)
        for source, close in CLOSE_COMMAND.items():
            if text == close:
                self._orphans.discard(source)  # its link is closed: nothing more comes
        mode = _RECVMODE_SETTING.match(text)
        if mode is not None:
            self._recvmode["HTTPS" if mode.group(1) else "HTTP"] = int(mode.group(2))
            return
        if text.startswith("AT+CMEE="):
            numeric = text == NUMERIC_ERRORS
            self.error_form = ErrorForm.NUMERIC if numeric else ErrorForm.PLAIN
        echo = _ECHO_SETTING.match(text)
        if echo is not None:
            self.parser.echo = self._echo_wanted = echo.group(1) == "1"
        elif text in _PROFILE_RESET:
            self.parser.echo = None  # back to a stored profile: echo unknown
            self._suspect()

    # ------------------------------------------------------------------ the reader
    def _process(self, now: float) -> None:
        # Consecutive length-prefixed chunks go to their stream joined, so the per-delivery
        # work (decoder, stream, waking the consumer) is paid once per read, not per chunk.
        parser = self.parser
        batch: list[bytes] = []
        source: Source = "HTTP"
        while True:
            if self._paused:
                if batch:
                    self._deliver(source, b"".join(batch), False, now)
                return
            event = parser.next_event()
            if isinstance(event, Payload):
                if batch and event.source != source:  # the other family's chunk: a new batch
                    self._deliver(
                        source, b"".join(batch) if len(batch) > 1 else batch[0], False, now
                    )
                    batch = []
                batch.append(event.data)
                source = event.source
                continue
            if batch:
                self._deliver(source, b"".join(batch) if len(batch) > 1 else batch[0], False, now)
                batch = []
            if isinstance(event, NeedData):
                return
            self._dispatch(event, now)
            if parser.distrusted and self.trust is not Trust.DISTRUSTED and self.closed is None:
                self._lose_trust("the line is not trusted", (), now, expected=False)

    def _dispatch(self, event: object, now: float) -> None:
        if isinstance(event, Echo):
            flight = self._flight
            if flight is not None:
                self._echoed(flight)
            if self.exchange is Exchange.ECHO:
                self._move(Exchange.REPLY)
                if self._rec_hunt and self._streams and self.recovery is Recovery.PROBE:
                    self._hunt_ended(now)
        elif isinstance(event, FinalResult):
            flight = self._flight
            self._final(event, now)
            if (
                flight is not None
                and self._flight is None
                and not event.ok
                and flight.data is not None
                and not flight.prompted
            ):
                # A data command's error before its prompt: the module's answer while the line
                # is in step, but noise may have made it up (the module then waits for the
                # data). A recovery before the module would have given up waits that out:
                # its probe would be taken as the data, and reach the server.
                until = now + self.module_data_timeout + self.timeout_slack
                self._data_risk_until = max(self._data_risk_until, until)
            if flight is None and any(s.bytes_received for s in self._streams.values()):
                # No command answers it amid a response: a line of the server's bytes, after a
                # chunk whose length a lost byte shifted onto the next frame (that chunk may
                # have completed the body: it ends only on the link-closed report). Before the
                # response's first byte no chunk was shifted: a late or duplicate final.
                self._stray(event.text, now)
        elif isinstance(event, InfoLine):
            if event.text.startswith(_PAYLOAD_NAMES):
                self._headless_chunk(now)
            elif self._flight is not None:
                self._flight.lines.append(event.text)
        elif isinstance(event, RawData):
            self._deliver(event.source, event.data, True, now)
        elif isinstance(event, Urc):
            self._report(event.line, now)
        elif isinstance(event, Prompt):
            self._prompt(now)
        elif isinstance(event, RawStart):
            self.log.debug("payload.raw_start", source=event.source)
            stream = self._streams.get(event.source)
            if stream is not None and (
                stream.bytes_received or self._recvmode.get(event.source) == 1
            ):
                # A response does not switch receive modes: a chunk header cut short (by a
                # restart) and a line end look like a mode-0 start; nothing of it is data.
                self._lose_trust("a receive-mode-0 start amid a response", (), now, expected=False)
        elif isinstance(event, RawEnd):
            self._raw_end(event, now)
        elif isinstance(event, WireError):
            self.wire_errors += 1
            self.log.warning("wire.error", reason=event.reason, size=len(event.data))
            # What follows may be a server's bytes or the echo of a caller's data: nothing of
            # it is read as the module's output until a probe comes back.
            self._lose_trust(f"framing lost: {event.reason}", (), now, expected=False)
        elif isinstance(event, Stray):
            self._stray_echo(event.line)
            self._stray(event.line, now)

    def _deliver(self, source: Source, data: bytes, raw: bool, now: float) -> None:
        stream = self._streams.get(source)
        if stream is None:
            self._orphans.add(source)
            self.dropped_payload_bytes += len(data)
            self.log.debug("payload.dropped", source=source, size=len(data))
            return
        flight = self._flight
        if flight is not None and not flight.final_seen and self._starts_response(flight, source):
            flight.response_seen = True  # a request whose response arrives did not fail
        leftover = stream.deliver(data)
        if stream.finished:
            del self._streams[source]
            if raw:
                # The response is complete, but the server may still be sending: close its
                # link and prove the channel in step before anything else is trusted.
                self.parser.end_raw(leftover or 0)
                self._lose_trust(
                    f"end of a receive-mode-0 {source} response",
                    (CLOSE_COMMAND[source],),
                    now,
                    expected=True,
                )
        elif stream.paused and not self._paused:
            self._paused = True
            self._paused_at = now
            self.read_pauses += 1
            self._actions.append(_PAUSE)

    @staticmethod
    def _starts_response(flight: _Flight, source: Source) -> bool:
        """Whether ``flight`` is the request whose response ``source`` payload is."""
        spec = spec_for(flight.command)
        return spec.prompt and spec.family == source

    def _stray_echo(self, line: str) -> None:
        """A stray line may still be an echo: of a line written before a probe (in the middle
        of a recovery), damaged by noise on its way in or out (the module read a line there and
        answers it), or glued to the text of a report that lost its line end."""
        answers = self._answers
        if answers.echoed(line):
            return
        flight = self._flight
        if flight is not None and line.endswith(flight.command) and answers.echoed(flight.command):
            return
        if line[:2].upper() == "AT":
            answers.echoes_found(1)  # the oldest line still unread is owed its answer

    def _written(self, line: str) -> None:
        """A line went out: it is owed an answer once the module read it (its echo)."""
        if line == NUMERIC_ERRORS:
            self.error_form = ErrorForm.NUMERIC
        numeric = self.error_form is not ErrorForm.PLAIN
        self._answers.written(line, read=self.parser.echo is False, numeric=numeric)
        if self.parser.distrusted:
            self._watch_echoes()

    def _watch_echoes(self) -> None:
        """While bytes are discarded, the echoes of the lines written are looked for in them."""
        parser = self.parser
        self._answers.echoes_found(parser.echoes_found)
        parser.watch_echoes(self._answers.unread())

    def _module_knows(self, line: str) -> bool:
        """Whether the module surely knows the command of ``line`` (never answers it "unknown
        command"): a basic command, one of the command table, the channel's own, or one it
        answered OK before; never one it answered "unknown command" (a caller's typo)."""
        if line in self._unknown_lines:
            return False
        if line in self._known_lines or line.startswith(("ATE", NUMERIC_ERRORS)):
            return True
        return command_name(line) is None or spec_for(line) is not DEFAULT_SPEC

    def _final(self, event: FinalResult, now: float) -> None:
        if event.code == UNKNOWN_COMMAND and event.text.startswith("+CME ERROR"):
            self.error_form = ErrorForm.NUMERIC
            answered = self._answers.answer(ok=False, known=self._module_knows)
        else:
            answered = self._answers.answer(ok=event.ok)
        flight = self._flight
        if flight is None or not event.solicited or flight.final_seen:
            self.stray_replies += 1
            self.log.info("reply.stray", kind="final", size=len(event.text))
            if flight is None and answered is None and self.trust is Trust.TRUSTED:
                # An answer no line written is owed, on a line in step: a duplicate, or the
                # answers lag behind the lines (a module that echoes while busy, counted short).
                # Prove the line again, now, in the background.
                self._suspect()
                self._eager = True
            return
        if flight.probe:
            if event.ok and answered is not None and self.exchange is Exchange.REPLY:
                # An earlier line's OK after the probe's echo: this module echoes while busy.
                self._set_echo_habit(EchoHabit.WHILE_BUSY)
            if event.ok or answered not in (None, flight.command):
                # The answer to a line written before the probe (a busy module that echoes
                # input while busy echoed the probe first): the probe ends on its own error
                # answer only, the one read when it is the oldest line owed an answer.
                self.stray_replies += 1
                self.log.info("reply.stray", kind="final", size=len(event.text))
                self.parser.begin_command(flight.command, echoed=True)
                return
            numeric = event.code == UNKNOWN_COMMAND
            self.error_form = ErrorForm.NUMERIC if numeric else ErrorForm.PLAIN
            self._probe_answered(now)
            return
        if flight.response_seen and not event.ok:
            # An error after the request's response began: not the request's (its OK was lost
            # on the line), but a line of the server's body after a broken chunk.
            self._lose_trust(
                f"an error final for {redact(flight.command)} amid its response",
                (),
                now,
                expected=False,
            )
            return
        flight.final_seen = True
        call = flight.call
        self._flight = None
        zombie = self.exchange is Exchange.ZOMBIE
        self._move(Exchange.IDLE)
        if call is None:
            if zombie:
                # A late final of a command its caller gave up: the module finished it, and
                # (after its echo) the line is in step again.
                self._data_risk_until = 0.0
                self.log.info("resync.late_reply", command=redact(flight.command))
                if (
                    self.trust is Trust.SUSPECT
                    and self.parser.echo is True
                    and not self._before_probe
                    and not self._answers.owed
                ):
                    self._set_trust(Trust.TRUSTED)
                    self._eager = False
                if self.recovery is Recovery.DATA_WAIT:
                    self._set_recovery(Recovery.IDLE)  # no data phase: probe now, if needed
            elif event.ok:
                self._track_settings(flight.command)  # the core's own ATE0 or close command
            else:
                self._log_error(flight.command, event)
            return
        if event.ok:
            if self._debug:
                lines = len(flight.lines)
                self.log.debug("command.ok", command=redact(flight.command), lines=lines)
            self._track_settings(flight.command)
            if len(self._known_lines) < OWED_MAX and flight.command not in self._known_lines:
                self._known_lines.add(flight.command)
            self._settle(call, Reply(flight.command, list(flight.lines), event.text))
        else:
            self._log_error(flight.command, event)
            if event.code == UNKNOWN_COMMAND and len(self._unknown_lines) < OWED_MAX:
                self._unknown_lines.add(flight.command)
            self._settle(call, CommandError(flight.command, event.text, event.code))

    def _log_error(self, command: str, event: FinalResult) -> None:
        # the module's text is not logged (a line may carry what others chose): kind and size
        self.log.info(
            "command.error", command=redact(command), code=event.code, size=len(event.text)
        )

    def _prompt(self, now: float) -> None:
        flight = self._flight
        if flight is None or flight.data is None or flight.prompted:
            self.log.warning("prompt.unexpected")
            self.parser.withhold_data()
            return
        flight.prompted = True
        if flight.call is None:
            # Nobody waits for this command any more: never send data the module may take
            # for commands. It gives up waiting for the data by itself.
            self.log.warning("prompt.abandoned", command=redact(flight.command))
            self.parser.withhold_data()
            return
        self._move(Exchange.DATA)
        elapsed = now - flight.sent_at
        if elapsed + self.line_time(len(flight.data)) > self.module_data_timeout / 2:
            self.log.warning("prompt.late", command=redact(flight.command), seconds=elapsed)
            self.parser.withhold_data()
            return
        flight.data_done = True
        self._actions.append(Write(flight.data))

    def _report(self, line: str, now: float) -> None:
        self.log.debug("urc", kind="report", size=len(line))
        if line.startswith(_PAYLOAD_NAMES):
            self._headless_chunk(now)
            return
        for source, prefixes in LINK_CLOSED.items():
            if line.startswith(prefixes):
                self._orphans.discard(source)
                self._closed_links.add(source)
                stream = self._streams.pop(source, None)
                if stream is not None:
                    stream.link_closed(line)
                self._actions.append(Notify(LinkClosed(source, line)))
        if (self._streams or self._orphans) and not (line.isascii() and line.isprintable()):
            # A report holding bytes no report holds, while a response is awaited: a garbled
            # chunk header (``+HTTPRUCV: 167,<data>``); its data is not a report.
            self._stray(line, now)
            return
        if line == RESTARTED:
            if self._orphans or any(s.bytes_received for s in self._streams.values()):
                self._unproven_restart(now)
                return
            self._restarted(now)
        elif not REPORT_SHAPE.match(line):
            self._stray(line, now)
            return
        self._actions.append(Report(line))

    def _headless_chunk(self, now: float) -> None:
        """A line that starts with a payload report's name (``+HTTPRECV`` with no ``: <len>,``,
        or a garbled one): no reply or report is one, so it is a chunk header that lost its
        length, and its data (the server's bytes) follows as lines. Whether or not a stream
        waits for it, nothing after it is the module's until a probe's echo."""
        self.log.debug("line.stray", kind="payload_header", size=0)
        self._lose_trust("a payload header without its length", (), now, expected=False)

    def _unproven_restart(self, now: float) -> None:
        """``+PBREADY`` while a response is under way (a stream has bytes, or a response nobody
        reads may still be coming): the module's boot report, or a line of the server's body
        read after a lost frame (a chunk length damaged so that the chunk ends right before
        it). Before a response's first byte the server's bytes cannot reach the line reader
        without a stray line first. Either way the response is over (a restarted module has no
        link), and what follows is not trusted until a probe. Nothing is published: a server
        must not make the supervision believe the module restarted; a real restart is told by
        the module's state, as one whose +PBREADY was lost (docs/reliability.md)."""
        self.log.warning("restart.unproven")
        self._fail_streams(LinkClosedError, _UNPROVEN_RESTART, now)
        self._lose_trust("+PBREADY amid a response", (), now, expected=False)

    def _restarted(self, now: float) -> None:
        """The module restarted: its links are gone, and so may be the command in flight."""
        self._actions.append(Notify(ModuleRestarted()))
        self._recvmode.clear()  # the module forgot its link settings
        self.error_form = ErrorForm.UNSEEN  # and its error mode
        if not self._echo_wanted:
            self._suspect()  # echo is back on: turn it off again after a probe
        self._fail_streams(LinkClosedError, "link lost: the module restarted", now)
        flight = self._flight
        # The restart lost every line written before it, except perhaps the last one (written
        # after the module was up again): nothing else is owed an answer.
        self._answers.restarted(
            flight.command if flight is not None and not flight.final_seen else None
        )
        if flight is None or flight.probe or flight.final_seen:
            return
        flight.data_done = True  # a restarted module waits for no data
        # The module may have restarted before the command reached it (then it answers it) or
        # after (then the command is lost): allow a short grace for the answer.
        flight.restart_deadline = self.line_now(now) + self.resync_grace

    def _stray(self, line: str, now: float) -> None:
        self.log.debug("line.stray", kind="stray", size=len(line))
        if self._streams or self._orphans:
            # Text while a response is awaited or under way: a chunk header was lost (garbled)
            # and its data read as lines; nothing after it may reach the stream, nor be read
            # as the module's reports (a response nobody reads any more included).
            self._lose_trust("unexpected text amid the payload", (), now, expected=False)

    def _raw_end(self, event: RawEnd, now: float) -> None:
        # The report that ends raw bytes may be the server's own text, and the server may go
        # on sending: whatever it is, the link is closed and the channel probed before the line
        # is trusted again (the parser already discards what follows). Nor is it passed on as a
        # report: a server must not make the gateway believe the module restarted.
        stream = self._streams.pop(event.source, None)
        if stream is not None:
            stream.link_closed(event.line, event.retract)
        flight = self._flight
        if flight is not None and command_name(flight.command) in CLOSE_COMMANDS:
            # The close command's OK was consumed as raw bytes; its report ends the exchange.
            flight.final_seen = True
            self._answers.forget(flight.command)
            self._flight = None
            self._move(Exchange.IDLE)
            if flight.call is not None:
                self._settle(flight.call, Reply(flight.command, [], "OK"))
        self._lose_trust(
            f"receive-mode-0 {event.source} bytes ended by a report",
            (CLOSE_COMMAND[event.source],),
            now,
            expected=True,
        )

    def _fail_streams(self, error: type[N58Error], reason: str, now: float) -> None:
        """Fail every open stream at its exact offset: nothing after it is ever handed out."""
        if not self._streams:
            return
        for source, stream in list(self._streams.items()):
            del self._streams[source]
            self._orphans.add(source)  # the server may still be sending
            offset = stream.bytes_received
            stream.fail(error(f"{source} payload: {reason} (after byte {offset})"))
        self._resume_if_drained(now)

    def _echoed(self, flight: _Flight) -> None:
        """The echo of the line in flight: the module read it. A probe's echo found by a hunt
        also settles what the hunt discarded before it: echoes and answers of earlier lines."""
        answers = self._answers
        if flight.probe:
            parser = self.parser
            answers.echoes_found(parser.echoes_found)
            parser.watch_echoes([])
            answers.answers_discarded(parser.finals_discarded, flight.command, self._module_knows)
            parser.finals_discarded = []
        if answers.echoed_late(flight.command) and self.echo_habit is EchoHabit.UNSEEN:
            self._set_echo_habit(EchoHabit.LATE)
        answers.echoed(flight.command)
        if flight.probe:
            answers.probe_echoed(flight.command)

    def _hunt_ended(self, now: float) -> None:
        """The hunt found the probe's echo: a stream opened during the hunt fails if any byte
        was discarded since it opened (the streams open when it began failed then)."""
        discarded = self.parser.discarded
        for source, stream in list(self._streams.items()):
            if discarded > self._discard_marks.get(source, discarded):
                del self._streams[source]
                reason = "bytes discarded to find a probe's echo"
                stream.fail(ProtocolError(f"{source} payload: {reason} (after byte 0)"))
        self._resume_if_drained(now)

    def _lose_trust(
        self, reason: str, before_probe: Iterable[str], now: float, *, expected: bool
    ) -> None:
        """Distrust the line: every byte is discarded until a probe's echo; the command in
        flight and every open stream fail; the recovery starts (or hunts) at once."""
        if self.closed is not None:
            return
        first = self.trust is not Trust.DISTRUSTED
        self._set_trust(Trust.DISTRUSTED)
        self._eager = True
        added = [command for command in before_probe if command not in self._before_probe]
        self._before_probe += added
        if added and self.recovery is Recovery.SETTLE:
            for command in added:  # the probe after the ATE1 follows them
                self._actions.append(Write(encode_command(command)))
                self._written(command)
        if not self.parser.distrusted:
            self.parser.distrust()
        flight = self._flight
        if flight is not None:
            self._flight = None
            if self.exchange is not Exchange.IDLE:
                self._move(Exchange.IDLE)
            if flight.call is not None:
                self._settle(flight.call, ProtocolError(f"{flight.command}: {reason}"))
            self._note_data_risk(flight, now)
        self._fail_streams(ProtocolError, reason, now)
        if first:
            if expected:
                self.log.debug("line.distrusted", reason=reason)
            else:
                self.log.warning("line.distrusted", reason=reason)
        if self.recovery is not Recovery.IDLE:
            self._rec_hunt = True
        if self.recovery is Recovery.PROBE:
            if self._rec_attempt >= RESYNC_ATTEMPTS and self.line_now(now) >= self._rec_deadline:
                self._give_up(now)
                return
            self.log.info("resync.retry", attempt=self._rec_attempt, distrusted=True)
            self._next_probe(now)

    def _stall_deadline(self) -> float:
        return self._last_rx + CHUNK_STALL

    # ------------------------------------------------------------------ recovery
    def _start_recovery(self, now: float) -> None:
        """Prove the line in step: first wait out a possible data phase, then probe."""
        flight = self._flight
        if self._data_risk_until > now:
            # The module may be in its data phase, reading whatever comes (a probe) as data:
            # wait until it must have given up, with a zombie's late final still recognised.
            self.log.info("resync.data_phase_wait", seconds=round(self._data_risk_until - now, 3))
            self._rec_started = now
            self._rec_until = self._data_risk_until
            self._set_recovery(Recovery.DATA_WAIT)
            return
        self._data_risk_until = 0.0
        remaining = 0.0
        if flight is not None and not flight.final_seen:
            # The command that timed out: the module may still be working on it.
            remaining = flight.sent_line + spec_for(flight.command).timeout + self.timeout_slack
            remaining -= self.line_now(now)
        self._begin_probes(now, remaining)

    def _after_data_wait(self, now: float) -> None:
        self._data_risk_until = 0.0
        self._set_recovery(Recovery.IDLE)
        self._start_recovery(now)

    def _begin_probes(self, now: float, remaining: float) -> None:
        parser = self.parser
        if self._flight is not None:
            self._flight = None
            self._move(Exchange.IDLE)
        parser.abandon_command()
        raw_source = parser.raw_source
        if raw_source is not None and CLOSE_COMMAND[raw_source] not in self._before_probe:
            # Raw bytes of a response nobody reads: their server may go on sending until the
            # link is closed, and must not be read as the module's output afterwards.
            self._before_probe.append(CLOSE_COMMAND[raw_source])
        self._rec_hunt = (
            self.trust is Trust.DISTRUSTED
            or parser.distrusted  # e.g. the zombie's data echo was still coming
            or parser.echo is not True
            or parser.in_raw_mode
        )
        # The module may first have to finish the command that timed out (up to its manual
        # timeout): probes go out every `grace` seconds until then (a busy module answers them
        # in order; a probe whose echo was damaged is followed by the next), at least 3.
        grace = self.resync_grace
        self._rec_started = now
        self._pace_mark = (self._answers.written_total, self._answers.answered_total)
        self._rec_deadline = self.line_now(now) + max(grace * RESYNC_ATTEMPTS, remaining + grace)
        self._rec_attempt = 0
        self._next_probe(now)

    def _next_probe(self, now: float) -> None:
        """Send the next probe (hunting when the line may hold anything)."""
        self._rec_attempt += 1
        self._rec_probe = sync_probe()
        if self._flight is not None:
            self._flight = None
            self._move(Exchange.IDLE)
        if self._rec_hunt:
            if self.trust is not Trust.DISTRUSTED:
                self._set_trust(Trust.DISTRUSTED)
            if not self.parser.distrusted:
                self.parser.distrust()
            # a hunt discards every byte: no stream may go on after a gap
            self._fail_streams(ProtocolError, "bytes discarded to find a probe's echo", now)
            for command in self._before_probe:
                self.log.info("resync.before_probe", command=redact(command))
                self._actions.append(Write(encode_command(command)))
                self._written(command)
        if self._numeric_errors_needed:
            self._numeric_errors_needed = False
            self.log.info("resync.before_probe", command=NUMERIC_ERRORS)
            self._actions.append(Write(encode_command(NUMERIC_ERRORS)))
            self._written(NUMERIC_ERRORS)
        if self._rec_hunt and (
            self.parser.echo is not True or self._rec_attempt % RESYNC_ATTEMPTS == 0
        ):
            # Echo may be off (or unknown): the probe's echo is the proof, so turn it on.
            self._actions.append(Write(b"ATE1\r"))
            self._written("ATE1")
            self._rec_until = self.line_now(now) + ECHO_ON_SETTLE + self.line_time(16)
            self._set_recovery(Recovery.SETTLE)
            return
        if self._answers.owed:
            # A line is still owed an answer: first one the module answers OK at once (echo is
            # on: no pause). OK never answers a probe, so an earlier probe whose own answer was
            # lost on the line is told by it (answers.py), not taken for this one's.
            self._actions.append(Write(b"ATE1\r"))
            self._written("ATE1")
        self._write_probe(now)

    def _write_probe(self, now: float) -> None:
        probe = self._rec_probe
        line = encode_command(probe)
        timeout = self.resync_grace + self.line_time(len(line) * 2)
        if self._before_probe:
            # a close waits until the module has written out the server data it holds
            timeout += min(10.0, self.resync_grace) + self.line_time(self.module_buffer)
        if self._rec_hunt:
            self.parser.begin_sync(probe)
        else:
            self.parser.begin_command(probe)
        line_now = self.line_now(now)
        self._flight = _Flight(probe, None, None, True, now, line_now, line_now + timeout)
        self._move(Exchange.ECHO)
        self._set_recovery(Recovery.PROBE)
        self._actions.append(Write(line))
        self._written(probe)

    def _probe_unanswered(self, now: float) -> None:
        flight = self._flight
        echoed = self.exchange is Exchange.REPLY
        given_up = self._rec_attempt >= RESYNC_ATTEMPTS and self.line_now(now) >= self._rec_deadline
        if (
            flight is not None
            and echoed
            and not given_up
            and self._answers.owed_before(flight.command)
        ):
            # Its echo came and lines before it are still owed answers: the module has it and
            # answers it after them (a busy module). Another probe would only lengthen that
            # queue: wait on. (With nothing owed before it, its answer was lost: probe again.)
            self._rec_attempt += 1
            flight.line_deadline = self.line_now(now) + self.resync_grace
            self.log.info("resync.wait", attempt=self._rec_attempt, owed=self._answers.owed)
            return
        self._flight = None
        self._move(Exchange.IDLE)
        self.parser.abandon_command()
        if given_up:
            self._give_up(now, probe_echoed=echoed)
            return
        self.log.warning("resync.retry", attempt=self._rec_attempt, hunt=self._rec_hunt)
        self._rec_hunt = True
        self._next_probe(now)

    def _probe_answered(self, now: float) -> None:
        """The probe's own error answer after its own echo: the line is in step."""
        self._flight = None
        self._move(Exchange.IDLE)
        self._set_recovery(Recovery.IDLE)
        self._set_trust(Trust.TRUSTED)
        self._before_probe.clear()
        self._answers.clear()  # the probe was the last line written: nothing else is owed
        self._give_ups = 0
        self.parser.finals_discarded = []
        self.parser.watch_echoes([])
        self._eager = False
        self.resyncs += 1
        if self._rec_hunt:
            self.parser.echo = True  # the probe's echo came back
        self.log.info("resync.done", attempt=self._rec_attempt, discarded=self.parser.discarded)
        while self._queue and self._queue[0].command is None:
            self._settle(self._queue.popleft(), Reply(_PROBE_NAME, [], "OK"))
        if not self._echo_wanted and self.parser.echo:
            self._send_own("ATE0", now)

    def _give_up(self, now: float, *, probe_echoed: bool = False) -> None:
        """No probe came back (``probe_echoed``: the last one's echo did): the callers waiting
        fail now; the line stays out of step and the next call tries again."""
        self._set_recovery(Recovery.IDLE)
        self._eager = False
        written = self._answers.written_total - self._pace_mark[0]
        answered = self._answers.answered_total - self._pace_mark[1]
        owed = self._answers.owed
        # The module answered exactly the lines written meanwhile, and the count still owes as
        # many as the time before: a busy module draining a backlog answers more than that, one
        # busy on a line answers fewer. Twice so: the backlog is the count's own, made of
        # answers lost on the line (a probe's own), and it would shift every later answer.
        paced = 0 < written == answered and owed == self._owed_at_give_up
        self._owed_at_give_up = owed
        self._give_ups = self._give_ups + 1 if paced else 0
        late = self.echo_habit is EchoHabit.LATE
        if self._give_ups >= 2 or (late and probe_echoed):
            # (A module that echoes a line when it reads it and echoed the probe has answered
            # every line before it, and then the probe at once: the count was wrong.)
            self._give_ups = 0
            self.log.info("resync.recount", owed=self._answers.owed)
            self._answers.clear()
        if self.error_form is not ErrorForm.NUMERIC:
            # Errors all look alike (CMEE=0, or 2): an answer lost on the line could leave every
            # later probe one answer short for good. The next recovery turns numeric errors on,
            # so that the probe's "unknown command" answer tells itself from the others.
            self._numeric_errors_needed = True
        waited = round(now - self._rec_started, 1)
        self.log.warning("resync.failed", attempts=self._rec_attempt, seconds=waited)
        while self._queue:
            self._settle(self._queue.popleft(), CommandTimeout(_PROBE_NAME, waited))


_PROBE_NAME = SYNC_PROBE_PREFIX + "<token>"
