"""The invariants a simulated run checks, as each call ends and each stream item arrives.

- **bounded time**: a call ends within its timeout plus :attr:`Checker.slack` (virtual
  seconds); a call its caller cancels ends within the slack of the cancel;
- **own reply**: a command's :class:`~n58aio.channel.Reply` is the module's answer to that very
  command, sent after the call began (``AT+CSQ`` answers carry the module's execution serial,
  and a serial answers one call only); an error result comes only for a command the module
  fails; anything else a call raises is an :class:`~n58aio.errors.N58Error`;
- **exact bytes**: a stream's bytes are a prefix of the server's at every item, and a stream
  that ends without an error ends complete;
- **no forged report**: a report handed to a subscriber is a line the module wrote, never one
  made of a server's bytes;
- **the server gets the caller's data**: what a data phase delivered to the server is the data
  of a call, whole;
- **nothing leaks**: checked by :mod:`fuzz.sim.run` when the run ends (no task left, no timer
  left, buffers within their bounds).

A broken invariant raises :class:`Violation` at the step that broke it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from n58aio.channel import Reply
from n58aio.errors import CommandError, N58Error

from .module import MANUFACTURER, MODEL, REVISION, SimN58, csq_serial

__all__ = ["FORGED_REPORTS", "Checker", "Violation"]

_FIXED_REPLIES: dict[str, list[str]] = {
    "ATI": [MANUFACTURER, MODEL, f"Revision: {REVISION}"],
    "AT+CGMR": [REVISION],
    "AT": [],
    "ATE0": [],
    "ATE1": [],
    "AT+HTTPSETUP": [],
    "AT+HTTPCLOSE": [],
    "AT+HTTPACTION=0": [],
}
FORGED_REPORTS = ("+PBREADY", "+HTTPCLOSED: HTTP Link Closed", "+CSQ: 99,99")
"""Report lines that simulated servers put in their bodies (a model's CSQ rssi is < 32)."""
_EMPTY_OK = ("AT+HTTPPARA=", "AT+CMEE=", "AT+HTTPACTION=99,")
"""Command prefixes the module answers with a bare OK."""
_FAILURES = ("ERROR", "+CME ERROR:")
_MAY_FAIL = {
    # a restarted module lost the command; a request without a link; a data phase given up
    "AT+HTTPACTION": ("+HTTPACTION: SOCKET ID OPEN FAILED", "OPERATION EXPIRED"),
}


class Violation(AssertionError):
    """An invariant broke: ``invariant`` names it, the message says how."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass
class Checker:
    """Checks calls and streams against the module's record (see the module docstring)."""

    module: SimN58
    slack: float
    claimed: set[int] = field(default_factory=set)
    calls: int = 0
    items: int = 0
    enforce: frozenset[str] | None = None
    """The invariants that fail the run (None: all); others broken are only counted."""
    waived: list[Violation] = field(default_factory=list)

    def fail(self, invariant: str, detail: str) -> None:
        """Break ``invariant`` (for checks made outside the checker)."""
        self._fail(invariant, detail)

    def _fail(self, invariant: str, detail: str) -> None:
        violation = Violation(invariant, detail)
        if self.enforce is not None and invariant not in self.enforce:
            self.waived.append(violation)
            return
        raise violation

    def bounded(self, what: str, started: float, ended: float, limit: float) -> None:
        """``what`` took ``ended - started`` seconds; it may take ``limit`` plus the slack."""
        self.calls += 1
        took = ended - started
        if took > limit + self.slack + 1e-9:
            self._fail(
                "bounded-time",
                f"{what} took {took:.3f} s, bound {limit:.3f} s + slack {self.slack} s",
            )

    def outcome(self, command: str, started: float, outcome: object) -> None:
        """The result (a Reply or the exception) of ``command``, called at ``started``."""
        if isinstance(outcome, Reply):
            self._reply(command, started, outcome)
        elif isinstance(outcome, CommandError):
            self._error_result(command, outcome)
        elif not isinstance(outcome, N58Error):
            self._fail("error-type", f"{command} raised {outcome!r}, not an N58Error")

    def _reply(self, command: str, started: float, reply: Reply) -> None:
        text = command.upper()
        if reply.command != command:
            self._fail("own-reply", f"{command} got the reply of {reply.command}")
            return
        if reply.final != "OK":
            self._fail("own-reply", f"{command} got final {reply.final!r} as a success")
            return
        expected = _FIXED_REPLIES.get(text)
        if text.startswith(_EMPTY_OK):
            expected = []
        if text == "AT+CSQ":
            self._csq(command, started, reply.lines)
        elif expected is None:
            self._fail("own-reply", f"{command} (the module fails it) got {reply!r}")
        elif reply.lines != expected:
            self._fail("own-reply", f"{command} got lines {reply.lines!r}")

    def _csq(self, command: str, started: float, lines: list[str]) -> None:
        serial = csq_serial(lines[0]) if len(lines) == 1 else None
        if serial is None:
            self._fail("own-reply", f"{command} got lines {lines!r}")
            return
        record = next((e for e in self.module.executions if e.serial == serial), None)
        if record is None or record.line != command:
            self._fail("own-reply", f"{command} got {lines!r}, an answer to {record}")
            return
        if record.received < started:
            self._fail(
                "own-reply",
                f"{command} (called at {started:.3f}) got the answer to an earlier call "
                f"(received by the module at {record.received:.3f})",
            )
            return
        if serial in self.claimed:
            self._fail("own-reply", f"{command}: answer {serial} handed to two calls")
            return
        self.claimed.add(serial)

    def _error_result(self, command: str, error: CommandError) -> None:
        text = command.upper()
        final = error.text
        if final == "+PBREADY":
            return  # the module restarted: the command was lost
        for prefix, finals in _MAY_FAIL.items():
            if text.startswith(prefix) and final in finals:
                return
        fails = text not in _FIXED_REPLIES and text != "AT+CSQ"
        fails = fails and not text.startswith(_EMPTY_OK)
        # (the code of a failing command's error may come garbled: noise nothing can see)
        if not fails or not final.startswith(_FAILURES):
            self._fail("own-reply", f"{command} failed with {final!r}")

    def stream_item(self, name: str, got: bytes, item: bytes, server: bytes) -> None:
        """``item`` arrived after ``got``: together they must be a prefix of ``server``."""
        self.items += 1
        start = len(got)
        expected = server[start : start + len(item)]
        if item != expected:
            at = start + next(
                (i for i, (a, b) in enumerate(zip(item, expected, strict=False)) if a != b),
                min(len(item), len(expected)),
            )
            self._fail(
                "exact-bytes",
                f"{name}: byte {at} is {item[at - start : at - start + 16]!r}, the server's "
                f"is {server[at : at + 16]!r}",
            )

    def bounded_buffer(self, what: str, size: int, limit: int) -> None:
        """``what`` holds ``size`` bytes: never more than ``limit``."""
        if size > limit:
            self._fail("no-leak", f"{what} holds {size} bytes, bound {limit}")

    def report(self, line: str) -> None:
        """A subscriber got report ``line``: if it is one that the server's bytes carry to look
        like the module (:data:`FORGED_REPORTS`), the module must have written it too."""
        if line in FORGED_REPORTS and line not in self.module.lines_out:
            self._fail("no-forged-report", f"report {line!r} made of the server's bytes")

    def uploads(self, sent: list[bytes]) -> None:
        """Every data phase the module completed got the data of a call, whole."""
        for data in self.module.received_data:
            if data not in sent:
                self._fail("caller-data", f"the server got {data[:60]!r}, no caller's data")

    def stream_end(self, name: str, got: bytes, server: bytes) -> None:
        """The stream ended without an error: it must be complete."""
        if got != server:
            self._fail(
                "exact-bytes", f"{name} ended after {len(got)} of {len(server)} bytes, no error"
            )
