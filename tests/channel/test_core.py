"""The channel core in virtual time: bytes and times in, actions out (no asyncio, no pty).

Each test plays the module by hand: it feeds the bytes a module would send at given times and
asserts the exact actions the core returns (bytes written, outcomes, pauses) and when.
"""

from __future__ import annotations

import math

import pytest
from core_sink import Sink

from n58aio.channel.answers import ECHO_HABIT_MOVES, EchoHabit, ErrorForm
from n58aio.channel.core import (
    CHUNK_STALL,
    EXCHANGE_MOVES,
    RECOVERY_MOVES,
    SYNC_PROBE_PREFIX,
    TRUST_MOVES,
    Action,
    ChannelCore,
    Exchange,
    LinkClosed,
    ModuleRestarted,
    Notify,
    PauseReading,
    Recovery,
    Reply,
    Report,
    ResumeReading,
    Settle,
    Trust,
    Write,
)
from n58aio.errors import CommandError, CommandTimeout, LinkClosedError, ProtocolError

GRACE = 2.0


class Harness:
    """A core and the actions it returned, with the time."""

    def __init__(self, **options: float) -> None:
        self.core = ChannelCore(baudrate=115200, **options)  # type: ignore[arg-type]
        self.now = 0.0
        self.actions: list[Action] = []
        self._unseen: list[Action] = []

    def take(self) -> list[Action]:
        """Every action not looked at yet."""
        actions = self.core.take_actions()
        self.actions += actions
        unseen, self._unseen = self._unseen + actions, []
        return unseen

    def _split(self, kind: type | tuple[type, ...]) -> list[Action]:
        actions = self.take()
        self._unseen = [action for action in actions if not isinstance(action, kind)]
        return [action for action in actions if isinstance(action, kind)]

    def writes(self) -> list[bytes]:
        return [action.data for action in self._split(Write) if isinstance(action, Write)]

    def outcomes(self) -> dict[int, Reply | BaseException]:
        return {
            action.call_id: action.outcome
            for action in self._split(Settle)
            if isinstance(action, Settle)
        }

    def feed(self, data: bytes, at: float | None = None) -> None:
        if at is not None:
            self.advance(at)
        self.core.receive(data, self.now)

    def advance(self, to: float) -> None:
        """Run the clock to ``to``, ticking at every deadline on the way (as the shell does)."""
        while True:
            deadline = self.core.next_deadline()
            if deadline is None or deadline > to:
                break
            self.now = max(self.now, deadline)
            self.core.tick(self.now)
        self.now = max(self.now, to)
        self.core.tick(self.now)

    def published(self) -> list[Action]:
        """The reports and module events not looked at yet (other actions stay unseen)."""
        return self._split((Notify, Report))

    def last_probe(self) -> bytes:
        probes = [w for w in self.writes() if w.startswith(SYNC_PROBE_PREFIX.encode())]
        assert probes, "no probe was written"
        return probes[-1]

    def prove(self) -> None:
        """Answer the first probe: the core is in step, echo on."""
        self.core.parser.echo = True
        call = self.core.submit_resync(self.now)
        probe = self.last_probe()
        self.feed(probe + b"\r\n+CME ERROR: 58\r\n")  # the N58 after the bring-up (CMEE=1)
        assert self.outcomes() == {call: Reply(SYNC_PROBE_PREFIX + "<token>", [], "OK")}
        assert self.core.trust is Trust.TRUSTED


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.prove()
    return harness


# ---------------------------------------------------------------------- tables


def test_every_state_has_its_row_in_the_transition_tables() -> None:
    assert set(EXCHANGE_MOVES) == set(Exchange)
    assert set(TRUST_MOVES) == set(Trust)
    assert set(RECOVERY_MOVES) == set(Recovery)
    assert Trust.TRUSTED not in TRUST_MOVES[Trust.TRUSTED]
    assert TRUST_MOVES[Trust.DISTRUSTED] == {Trust.TRUSTED}  # only a probe's answer
    assert set(ECHO_HABIT_MOVES) == set(EchoHabit)
    assert ECHO_HABIT_MOVES[EchoHabit.WHILE_BUSY] == set()  # what was seen is not forgotten


def test_the_module_habits_are_learnt() -> None:
    """A module seen to echo a probe only after answering the line before it echoes late; one
    whose earlier line's OK comes after a probe's echo echoes while busy, for good."""
    h = Harness()
    h.prove()
    assert h.core.error_form is ErrorForm.NUMERIC  # the probe got "+CME ERROR: 58"
    call = h.core.submit("AT+CSQ", h.now, timeout=0.5)
    h.feed(b"AT+CSQ\r")
    h.advance(0.6)  # the caller gives up: the probe goes out behind AT+CSQ (with an ATE1)
    assert isinstance(h.outcomes()[call], CommandTimeout)
    writes = h.writes()
    assert writes[-2:-1] == [b"ATE1\r"]
    # a module that echoes while busy: both echoes at once, AT+CSQ's late OK after them
    h.feed(b"ATE1\r" + writes[-1] + b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert h.core.echo_habit is EchoHabit.WHILE_BUSY
    h.feed(b"\r\nOK\r\n\r\n+CME ERROR: 58\r\n")  # then ATE1's answer and the probe's
    assert h.core.trust is Trust.TRUSTED


# ---------------------------------------------------------------------- the exchange


def test_the_core_starts_out_of_step_and_hunts_with_echo_turned_on() -> None:
    h = Harness()
    call = h.core.submit("AT+CSQ", 0.0)
    assert h.writes() == [b"ATE1\r"]  # echo unknown: turned on before the probe
    h.advance(0.1)
    assert h.writes() == []
    h.advance(0.25)  # 0.2 s and the line time of 16 bytes
    probe = h.last_probe()
    h.feed(b"OK\r\n" + probe + b"\r\nERROR\r\n")  # ATE1's OK is discarded by the hunt
    assert h.writes() == [b"AT+CSQ\r"]
    h.feed(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT+CSQ", ["+CSQ: 20,99"], "OK")}
    assert h.core.resyncs == 1


def test_one_command_at_a_time_in_order(h: Harness) -> None:
    first = h.core.submit("ATI", h.now)
    second = h.core.submit("AT+CSQ", h.now)
    assert h.writes() == [b"ATI\r"]
    h.feed(b"ATI\r\r\nN58\r\n\r\nOK\r\n")
    assert h.outcomes() == {first: Reply("ATI", ["N58"], "OK")}
    assert h.writes() == [b"AT+CSQ\r"]
    h.feed(b"AT+CSQ\r\r\n+CME ERROR: 10\r\n")
    outcome = h.outcomes()[second]
    assert isinstance(outcome, CommandError)
    assert outcome.code == 10


def test_a_final_before_the_echo_answers_nothing(h: Harness) -> None:
    call = h.core.submit("AT", h.now)
    h.feed(b"\r\nOK\r\nAT\r\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT", [], "OK")}
    assert h.core.stray_replies == 1


def test_the_prompt_gets_the_data(h: Harness) -> None:
    call = h.core.submit("AT+HTTPACTION=2,5,1", h.now, data=b"hello")
    assert h.writes() == [b"AT+HTTPACTION=2,5,1\r"]
    h.feed(b"AT+HTTPACTION=2,5,1\r\r\n>")
    assert h.writes() == [b"hello"]
    h.feed(b"hello\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT+HTTPACTION=2,5,1", [], "OK")}


# ---------------------------------------------------------------------- the probe


def test_the_probe_ends_only_on_its_own_error_answer(h: Harness) -> None:
    """#22 item 3: an OK after the probe's echo is a busy module's late answer to the command
    before; the probe's own answer (ERROR, or +CME ERROR: 58 with CMEE=1) comes later."""
    slow = h.core.submit("AT+CSQ", h.now, timeout=1.0)
    h.writes()
    h.advance(1.0)
    assert isinstance(h.outcomes()[slow], CommandTimeout)
    probe = h.last_probe()
    nxt = h.core.submit("ATI", h.now, timeout=5.0)
    h.feed(probe + b"\r\nOK\r\n")  # the module echoed the probe while busy, then answered CSQ
    assert h.core.recovery is Recovery.PROBE
    assert h.writes() == []  # ATI waits: the probe's own answer has not come
    assert h.core.stray_replies == 1
    h.feed(b"\r\n+CME ERROR: 58\r\n")
    assert h.core.trust is Trust.TRUSTED
    assert h.writes() == [b"ATI\r"]
    h.feed(b"ATI\r\r\nN58\r\n\r\nOK\r\n")
    assert h.outcomes() == {nxt: Reply("ATI", ["N58"], "OK")}


def test_a_module_silent_to_probes_fails_the_waiting_calls_and_stays_out_of_step(
    h: Harness,
) -> None:
    call = h.core.submit("AT", h.now, timeout=1.0)
    h.writes()
    h.advance(1.0)
    assert isinstance(h.outcomes()[call], CommandTimeout)
    waiting = h.core.submit("AT+CSQ", h.now, timeout=60.0)
    h.advance(30.0)
    probes = [w for w in h.writes() if w.startswith(b"AT+N58")]
    assert len(probes) >= 3  # at least three, and until the module's own time is out
    assert isinstance(h.outcomes()[waiting], CommandTimeout)
    assert h.core.needs_resync
    assert h.core.recovery is Recovery.IDLE


# ---------------------------------------------------------------------- bounded calls


def test_every_call_ends_by_its_own_deadline_behind_a_busy_module(h: Harness) -> None:
    """#22 item 2: a module busy 12 s with a command its caller gave up on. The calls behind it
    fail at their own deadlines while the recovery goes on in the background."""
    h.core.submit("AT+HTTPSETUP", h.now, timeout=1.0)  # 30 s manual timeout: module may work on
    h.writes()
    h.advance(1.0)
    started = h.now
    later = h.core.submit("AT+CSQ", h.now, timeout=1.0)
    h.advance(started + 0.99)
    assert later not in h.outcomes()
    h.advance(started + 1.0)
    assert isinstance(h.outcomes()[later], CommandTimeout)
    # the recovery keeps probing, every GRACE seconds, while the module may be busy
    h.advance(12.0)
    assert h.core.recovery is Recovery.PROBE
    assert len([w for w in h.writes() if w.startswith(b"AT+N58SYNC=")]) >= 5
    probe = h.core._rec_probe.encode() + b"\r"  # the probe in flight
    h.feed(b"\r\nOK\r\n" + probe + b"\r\nERROR\r\n", at=12.0)  # the setup's OK, then the probe's
    assert h.core.trust is Trust.TRUSTED
    nxt = h.core.submit("AT", h.now, timeout=1.0)
    h.feed(b"AT\r\r\nOK\r\n")
    assert h.outcomes()[nxt] == Reply("AT", [], "OK")


def test_a_call_queued_behind_a_data_phase_wait_fails_in_time(h: Harness) -> None:
    h.core.module_data_timeout = 30.0
    h.core.submit("AT+HTTPACTION=2,5,1", h.now, data=b"hello", timeout=1.0)
    h.writes()
    h.advance(1.0)  # no prompt: the module may be in its data phase for 30 s
    assert h.core.recovery is Recovery.DATA_WAIT
    later = h.core.submit("AT", h.now, timeout=2.0)
    h.advance(3.0)
    assert isinstance(h.outcomes()[later], CommandTimeout)
    assert h.writes() == []  # nothing was written while the module may read it as data


def test_a_cancelled_call_is_probed_at_once(h: Harness) -> None:
    call = h.core.submit("AT+CSQ", h.now, timeout=10.0)
    h.writes()
    h.core.cancel(call, h.now)
    assert h.outcomes() == {}
    assert h.core.needs_resync
    probe = h.last_probe()
    h.feed(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n" + probe + b"\r\nERROR\r\n")
    assert h.core.trust is Trust.TRUSTED


def test_a_queued_call_cancelled_writes_nothing(h: Harness) -> None:
    first = h.core.submit("AT", h.now)
    second = h.core.submit("ATI", h.now)
    h.writes()
    h.core.cancel(second, h.now)
    h.feed(b"AT\r\r\nOK\r\n")
    assert set(h.outcomes()) == {first}
    assert h.writes() == []


# ---------------------------------------------------------------------- backpressure


def _stream_behind(h: Harness, limit: int) -> Sink:
    sink = Sink(limit)
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 10,0123456789\r\n")
    assert sink.paused
    assert [a for a in h.take() if isinstance(a, PauseReading)] == [PauseReading()]
    return sink


def test_backpressure_is_not_the_modules_silence(h: Harness) -> None:
    """#22 item 1: a command times out while the channel keeps reading paused for a stalled
    consumer. Its caller fails in time; the line is not suspect (no probe, no bytes discarded);
    its late answer, read after the consumer caught up, is its own."""
    sink = _stream_behind(h, limit=10)
    call = h.core.submit("AT+CSQ", h.now, timeout=1.0)
    assert h.writes() == [b"AT+CSQ\r"]
    h.advance(8.0)  # the consumer stalls 8 s
    assert isinstance(h.outcomes()[call], CommandTimeout)
    assert h.writes() == []  # no probe: the module's answer is unread, not missing
    assert h.core.trust is Trust.TRUSTED
    sink.unread = 0
    h.core.drained(h.now)
    assert [a for a in h.take() if isinstance(a, ResumeReading)] == [ResumeReading()]
    h.feed(b"\r\n+HTTPRECV: 5,abcde\r\nAT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    h.feed(b"\r\n+HTTPRECV: 3,xyz\r\n")
    assert bytes(sink.data) == b"0123456789abcdexyz"
    assert sink.error is None
    assert h.core.exchange is Exchange.IDLE
    assert not h.core.needs_resync
    nxt = h.core.submit("ATI", h.now)
    assert h.writes() == [b"ATI\r"]
    h.feed(b"ATI\r\r\nOK\r\n")
    assert h.outcomes() == {nxt: Reply("ATI", [], "OK")}


def test_a_probe_waiting_behind_a_paused_stream_does_not_give_up(h: Harness) -> None:
    sink = _stream_behind(h, limit=10)
    call = h.core.submit("AT", h.now, timeout=1.0)
    h.core.cancel(call, h.now)
    probe = h.last_probe()
    h.advance(60.0)  # line clock stands still: no second probe, no hunt
    assert h.writes() == []
    assert sink.error is None
    sink.unread = 0
    h.core.drained(h.now)
    h.feed(b"\r\n+HTTPRECV: 2,ab\r\nAT\r\r\nOK\r\n" + probe + b"\r\nERROR\r\n")
    assert h.core.trust is Trust.TRUSTED
    assert bytes(sink.data) == b"0123456789ab"


def test_a_byte_discarded_while_a_stream_is_open_fails_it_at_that_offset(h: Harness) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 4,abcd\r\n+HTTPRECV: 4,efgh!!")  # length and data disagree
    assert bytes(sink.data) == b"abcd"
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 4" in str(sink.error)
    h.feed(b"\r\n+HTTPRECV: 2,ij\r\n")
    assert bytes(sink.data) == b"abcd"  # never a later byte in the place of the lost ones
    assert h.core.trust is Trust.DISTRUSTED


def test_a_hunt_for_echo_fails_an_open_stream_before_discarding(h: Harness) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 2,ab\r\n")
    h.core.parser.echo = None  # e.g. a stored profile came back: echo unknown
    h.core.write_blind("ATZ", h.now)
    h.core.submit("AT", h.now)
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 2" in str(sink.error)


# ---------------------------------------------------------------------- lost frames (#23.3)


def test_a_chunk_cut_by_a_restart_is_noticed_within_two_seconds(h: Harness) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 4,abcd\r\n+HTTPRECV: 1000,", at=10.0)
    h.feed(b"x" * 100, at=10.01)  # then the module restarts: the rest never comes
    h.advance(10.01 + 1.0 - 0.001)
    assert sink.error is None
    h.advance(12.0)
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 4" in str(sink.error)
    assert h.core.lost_frames == 1
    assert h.core.trust is Trust.DISTRUSTED
    assert h.core.recovery is Recovery.PROBE  # hunting for the probe's echo already


def test_a_chunk_waiting_behind_backpressure_is_not_lost(h: Harness) -> None:
    sink = Sink(limit=4)
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 4,abcd\r\n+HTTPRECV: 1000,xxxx")
    assert h.core.paused
    h.advance(30.0)
    assert sink.error is None
    assert h.core.lost_frames == 0


# ---------------------------------------------------------------------- module events


def test_a_restart_fails_a_command_it_swallowed(h: Harness) -> None:
    call = h.core.submit("AT+CSQ", h.now, timeout=10.0)
    h.feed(b"AT+CSQ\r\r\n+PBREADY\r\n")
    assert h.published() == [
        Notify(ModuleRestarted()),
        Report("+PBREADY"),
    ]
    h.advance(h.now + GRACE)
    outcome = h.outcomes()[call]
    assert isinstance(outcome, CommandError)
    assert outcome.text == "+PBREADY"


def test_a_pbready_amid_a_response_is_not_published(h: Harness) -> None:
    """A +PBREADY while a stream is open may be a line of the server's body after a chunk
    length damaged to end right before it (sim seed noisy+echo_late 121): the stream and the
    command in flight fail, the line is probed, and nothing is published, then or later (a
    real restart is told by the module's state, as one whose report was lost)."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 3,abc\r\n")
    call = h.core.submit("AT+CSQ", h.now, timeout=10.0)
    h.feed(b"AT+CSQ\r\r\n+PBREADY\r\n")
    assert isinstance(sink.error, LinkClosedError)
    assert "module restarted" in str(sink.error)
    assert isinstance(h.outcomes()[call], ProtocolError)
    assert h.core.needs_resync  # distrusted: every byte discarded until a probe's echo
    assert h.core.parser.distrusted
    # AT+CSQ's answer was lost to the restart; the module answers what came after it: the ATE1
    # written before the probe (its OK is not a probe's: AT+CSQ's answer was lost), the probe
    writes = h.writes()
    assert writes[-2:-1] == [b"ATE1\r"]
    h.feed(b"ATE1\r\r\nOK\r\n" + writes[-1] + b"\r\n+CME ERROR: 58\r\n")
    assert h.core.trust is Trust.TRUSTED
    later = h.core.submit("ATI", h.now)
    assert h.writes() == [b"ATI\r"]
    h.feed(b"ATI\r\r\nN58\r\n\r\nOK\r\n")
    assert h.outcomes() == {later: Reply("ATI", ["N58"], "OK")}
    assert h.published() == []


def test_a_payload_header_that_lost_its_length_is_never_a_report(h: Harness) -> None:
    """``+HTTPRECVH``: the header of a 1-byte chunk that lost its ``: 1,`` (sim seed
    noisy+echo_late 10204); its data follows as lines, whether or not a stream is open."""
    h.feed(b"\r\n+HTTPRECVH\r\n\r\n+CSQ: 99,99\r\n")
    assert h.core.trust is Trust.DISTRUSTED
    assert h.published() == []
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(h.last_probe() + b"\r\nERROR\r\n")
    h.feed(b"\r\n+HTTPRECVH\r\n\r\n+HTTPRECV: 12,TTP/1.1 200 \r\n")
    assert isinstance(sink.error, ProtocolError)
    assert bytes(sink.data) == b""


def test_link_closed_reports_end_the_stream_and_are_published(h: Harness) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 2,ab\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n")
    assert sink.closed_by == "+HTTPCLOSED: HTTP Link Closed"
    assert [a.event for a in h.take() if isinstance(a, Notify)] == [
        LinkClosed("HTTP", "+HTTPCLOSED: HTTP Link Closed")
    ]


def test_no_command_goes_while_a_chunk_after_its_link_closed_is_taken(h: Harness) -> None:
    """A chunk header forged into the link-closed report (trust invariant): the link is
    closed, and a line written now would have its echo and reply taken as the chunk's data. The
    command waits until the chunk stalls and a probe proves the line, then goes."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 2,ab\r\n\r\n+HTTPCLOSED:\r\n+HTTPRECV: 900000, HTTP Link Closed\r\n")
    assert sink.closed_by == "+HTTPCLOSED:"
    call = h.core.submit("AT+CGMM", h.now, timeout=5.0)
    assert h.writes() == []
    h.advance(h.now + CHUNK_STALL)
    assert h.core.trust is Trust.DISTRUSTED
    h.feed(h.last_probe() + b"\r\nERROR\r\n")
    assert h.writes() == [b"AT+CGMM\r"]
    h.feed(b"AT+CGMM\r\r\nN58\r\n\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT+CGMM", ["N58"], "OK")}


def test_a_command_goes_amid_the_chunks_of_an_open_response(h: Harness) -> None:
    """A chunk of the response under way is the module's own: a command is written amid it
    (its reply comes after the chunk), as a download goes on."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 10,abc")
    h.core.submit("AT+CSQ", h.now, timeout=5.0)
    assert h.writes() == [b"AT+CSQ\r"]


def test_a_final_that_answers_nothing_amid_a_response_fails_it(h: Harness) -> None:
    """A chunk whose end and CR were lost takes its length from the next frame; the rest of
    that frame is read as lines. An OK there, with no command in flight, is the server's."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    # a 20-byte chunk lost its last 16 bytes and its CR: it takes the next header as data
    h.feed(b"\r\n+HTTPRECV: 20,aaaa" + b"\n" + b"\r\n+HTTPRECV: 8,\r\nOK\r\n\r\n" + b"\r\n")
    assert bytes(sink.data) == b"aaaa\n\r\n+HTTPRECV: 8,"
    assert isinstance(sink.error, ProtocolError)
    assert h.core.trust is Trust.DISTRUSTED


def test_a_duplicate_final_before_the_responses_first_byte_is_harmless(h: Harness) -> None:
    """Before a chunk was taken none can have been shifted: a late or duplicate final."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\nOK\r\n\r\nERROR\r\n\r\n+HTTPRECV: 2,ab\r\n")
    assert sink.error is None and bytes(sink.data) == b"ab"
    # answers no line is owed: the line is proven again before the next command, no more
    assert h.core.trust is Trust.SUSPECT
    assert not h.core.parser.distrusted


def test_a_recovery_soon_after_a_data_commands_early_error_waits_out_its_data_phase(
    h: Harness,
) -> None:
    """An ERROR between a data command's echo and its prompt may be noise: the module then
    waits for the data, and a probe written now would be taken as the data and reach the
    server (trust invariant). A recovery in that window waits the data phase out first."""
    call = h.core.submit("AT+HTTPACTION=2,21,1", h.now, data=b"x" * 21)
    assert h.writes() == [b"AT+HTTPACTION=2,21,1\r"]
    h.feed(b"AT+HTTPACTION=2,21,1\r\r\nERROR\r\n")
    assert isinstance(h.outcomes()[call], CommandError)
    h.feed(b"\r\n+HTTPRECV: 2,abX")  # framing lost: the line is probed
    assert h.core.trust is Trust.DISTRUSTED
    window = h.core.module_data_timeout + h.core.timeout_slack
    h.advance(h.now + window * 0.9)
    assert not [w for w in h.writes() if w.startswith(SYNC_PROBE_PREFIX.encode())]
    h.advance(h.now + window * 0.2 + 1.0)
    assert h.last_probe()


def test_next_deadline_is_none_when_nothing_waits(h: Harness) -> None:
    assert h.core.next_deadline() is None
    h.core.submit("AT", h.now, timeout=3.0)
    assert h.core.next_deadline() == pytest.approx(h.now + 3.0)
    assert not math.isinf(h.core.next_deadline() or math.inf)


@pytest.mark.parametrize("extra", [400, 900_000])
def test_an_oversized_chunk_length_is_a_lost_frame_and_the_line_comes_back(
    h: Harness, extra: int
) -> None:
    """``+HTTPRECV: <len+K>,<len bytes>`` then the close report: the chunk swallows what
    follows. Within 1 s of line silence the stream fails at its offset, the probe's hunt
    leaves the chunk, and the next command gets its own reply, however large K is."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: %d," % (100 + extra) + b"x" * 100 + b"\r\n\r\n+HTTPCLOSED: x\r\n")
    call = h.core.submit("AT+CGMM", h.now, timeout=5.0)
    assert h.writes() == [b"AT+CGMM\r"]
    h.feed(b"AT+CGMM\r\r\nN58\r\n\r\nOK\r\n")  # swallowed by the chunk
    started = h.now
    h.advance(started + 0.999)
    assert sink.error is None
    h.advance(started + 1.0)
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 0" in str(sink.error)
    outcome = h.outcomes()[call]
    assert isinstance(outcome, ProtocolError)  # the command in flight fails with the line
    probe = h.last_probe()
    h.feed(b"AT+CGMM\r\r\nN58\r\n" + probe + b"\r\nERROR\r\n")
    assert h.core.trust is Trust.TRUSTED
    assert not h.core.parser.in_payload
    again = h.core.submit("AT+CGMM", h.now)
    h.feed(b"AT+CGMM\r\r\nN58\r\n\r\nOK\r\n")
    assert h.outcomes() == {again: Reply("AT+CGMM", ["N58"], "OK")}


@pytest.mark.parametrize(
    "garbled",
    [
        b"\r\n+HTTPRECV; 10,0123456789\r\n",  # not a report: stray text
        b"\r\n+HTTPRUCV: 4,\x01\x02\xfe\xff\r\n",  # a report holding binary data
    ],
)
def test_a_garbled_first_chunk_header_fails_the_stream_at_byte_0(
    h: Harness, garbled: bytes
) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(garbled + b"\r\n+HTTPRECV: 3,abc\r\n")
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 0" in str(sink.error)
    assert bytes(sink.data) == b""
    assert h.core.trust is Trust.DISTRUSTED


def test_a_mode_0_start_on_a_mode_1_link_is_noise(h: Harness) -> None:
    call = h.core.submit("AT+HTTPPARA=recvmode,1", h.now)
    h.feed(b"AT+HTTPPARA=recvmode,1\r\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT+HTTPPARA=recvmode,1", [], "OK")}
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV:\n 774,HTTP/1.1 200 OK\r\n")  # noise made the space a line end
    assert isinstance(sink.error, ProtocolError)
    assert bytes(sink.data) == b""
    assert h.core.trust is Trust.DISTRUSTED


def test_a_report_that_lost_its_text_is_no_line_of_the_reply(h: Harness) -> None:
    """``+HTTPCLOSED: ...`` cut to ``+HTTPCLOSED`` amid a command: no reply line has the
    shape ``+NAME`` alone, so it is a report, not the command's reply (seed full+echo_late 8)."""
    call = h.core.submit("AT", h.now)
    h.feed(b"AT\r\r\n+HTTPCLOSED\r\n\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT", [], "OK")}


def test_text_amid_a_response_nobody_reads_is_its_lost_frames_not_reports(h: Harness) -> None:
    """A stream closed before its response ended: the module goes on sending it. A chunk
    header lost on the line lets the server's bytes through as lines; the first such line
    distrusts the line, so a body line shaped like a report is never published (seeds
    full+echo_late 125 and 156)."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 3,abc\r\n")
    h.core.close_stream(sink, h.now)
    h.feed(b"\r\n+HTTPRECV: 2,de\r\n")  # dropped: nobody reads it
    h.take()
    h.feed(b"\r\n+HTTPRECVx;y\r\n+CSQ: 99,99\r\n+PBREADY\r\n")  # its length lost
    assert h.core.trust is Trust.DISTRUSTED
    assert [a for a in h.take() if isinstance(a, (Report, Notify))] == []


def test_after_the_close_command_stray_text_is_only_noise(h: Harness) -> None:
    """The close command's OK ends the response nobody reads: text after it is the line's
    noise, and a report after it is the module's."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.core.close_stream(sink, h.now)
    h.feed(b"\r\n+HTTPRECV: 2,de\r\n")
    call = h.core.submit("AT+HTTPCLOSE", h.now)
    h.feed(b"AT+HTTPCLOSE\r\r\nOK\r\n")
    assert h.outcomes() == {call: Reply("AT+HTTPCLOSE", [], "OK")}
    h.feed(b"\r\nx\x8ay\r\n\r\n+CSQ: 99,99\r\n")
    assert h.core.trust is Trust.TRUSTED
    assert [a for a in h.take() if isinstance(a, Report)] == [Report("+CSQ: 99,99")]


def test_an_error_after_a_requests_response_began_is_not_its_answer(h: Harness) -> None:
    """A request whose response arrives did not fail: an ``ERROR`` after a chunk of it is a
    line of the body after a broken chunk (its ``OK`` lost on the line), not its answer: the
    line is distrusted (seed noisy+echo_late 188)."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    call = h.core.submit("AT+HTTPACTION=0", h.now)
    h.feed(b"AT+HTTPACTION=0\r\r\n\r\n\r\n+HTTPRECV: 3,abc\r\nERROR\r\n")  # "OK" lost
    outcome = h.outcomes()[call]
    assert isinstance(outcome, ProtocolError)
    assert isinstance(sink.error, ProtocolError)
    assert bytes(sink.data) == b"abc"
    assert h.core.trust is Trust.DISTRUSTED


def test_a_chunk_after_the_requests_ok_is_its_response(h: Harness) -> None:
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    call = h.core.submit("AT+HTTPACTION=0", h.now)
    h.feed(b"AT+HTTPACTION=0\r\r\nOK\r\n\r\n+HTTPRECV: 3,abc\r\n")
    assert h.outcomes() == {call: Reply("AT+HTTPACTION=0", [], "OK")}
    assert bytes(sink.data) == b"abc"
    assert h.core.trust is Trust.TRUSTED


def test_a_chunk_header_that_lost_its_length_is_no_reply_line(h: Harness) -> None:
    """``+HTTPRECV`` then the data straight away (``: <len>,`` lost on the line), while a
    command waits: its bytes are the server's, not the command's reply; the stream fails
    where it stood, never handing out the next chunk in its place (seed full+echo_late 104)."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    h.feed(b"\r\n+HTTPRECV: 3,abc\r\n")
    call = h.core.submit("AT+CGMR", h.now)
    h.feed(b"AT+CGMR\r\r\n+HTTPRECV8\x84o:\xba\r\n\r\n+HTTPRECV: 3,def\r\n")
    assert isinstance(h.outcomes()[call], ProtocolError)
    assert isinstance(sink.error, ProtocolError)
    assert "after byte 3" in str(sink.error)
    assert bytes(sink.data) == b"abc"


def test_a_damaged_echo_still_owes_its_line_an_answer(h: Harness) -> None:
    """Noise on the way in: the module read 'AT+HTTPAKTION=0' for AT+HTTPACTION=0, echoed it
    at once and answers it after the probe's echo (a module that echoes while busy, sim seed
    noisy 3). That ERROR is the garbled line's; the probe ends on its own answer."""
    sink = Sink()
    h.core.open_stream("HTTP", sink)
    call = h.core.submit("AT+HTTPACTION=0", h.now, timeout=5.0)
    h.feed(b"AT+HTTPAKTION=0\r")  # text amid an awaited response: the line is distrusted
    assert isinstance(h.outcomes()[call], ProtocolError)
    probe = h.last_probe()
    h.feed(probe + b"\r\nERROR\r\n")  # the garbled line's answer, after the probe's echo
    assert h.core.needs_resync
    h.feed(b"\r\n+CME ERROR: 58\r\n")  # the probe's own
    assert not h.core.needs_resync
    later = h.core.submit("AT+HTTPCLOSE", h.now)
    assert h.writes()[-1] == b"AT+HTTPCLOSE\r"
    h.feed(b"AT+HTTPCLOSE\r\r\nOK\r\n")
    assert h.outcomes() == {later: Reply("AT+HTTPCLOSE", [], "OK")}
