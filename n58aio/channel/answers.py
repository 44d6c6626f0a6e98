"""Which written line a final result answers: the lines still owed an answer, in order.

A module answers the lines it reads one at a time, in order. Most modules echo a line when they
read it, after answering the one before, so the echo of a probe proves that what follows it is
the probe's answer. A module whose UART echoes input while it is busy echoes a probe at once and
answers the lines before it afterwards: then only counting tells the probe's answer from theirs
(issue #22, item 3). This queue does the counting, sans-IO, for :class:`~.core.ChannelCore`.

The rules this queue applies (the core adds those that need time; the whole table is in
docs/reliability.md):

- every line written joins the queue; it is *read* (owed an answer) once its echo was seen,
  parsed or found among bytes discarded while hunting for a probe's echo; with echo off, at once;
- a final result answers the oldest read line; unread lines before it were lost (a module reads
  lines in order), and so are unread lines before a probe when the probe's echo comes;
- the final results a hunt discarded before the probe's echo answer lines before it, by kind;
- ``OK`` never answers a probe: read probes before the line it answers lost their answers (the
  channel writes an ``ATE1`` before a probe while answers are owed, so that a probe's own answer
  lost on the line cannot leave the later probes one answer short);
- an unknown command's error (``+CME ERROR: 58``) answers the oldest read probe written while the
  module answered so (not a plain ``ERROR``, before ``AT+CMEE=1``) when every read line before it
  is one the module surely knows (the core decides: never a line it answered so, a caller's
  typo): those lost their answers;
- a restart and a proof (a probe answered) empty the queue, and so does the core when it finds
  the count wrong (a module that echoes late echoed a probe that got no answer; two recoveries
  in which the module kept exact pace with a steady count).

When the bookkeeping is off (noise made or destroyed a final), an answer may go to the wrong
line; a probe then ends on the first error after its echo, the plain echo rule, or waits one
probe more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

__all__ = ["ECHO_HABIT_MOVES", "OWED_MAX", "AnswerQueue", "EchoHabit", "ErrorForm"]


class ErrorForm(Enum):
    """How the module answers an unknown command (a probe), as seen or as set."""

    UNSEEN = "unseen"  # taken as NUMERIC: what the bring-up sets
    NUMERIC = "numeric"  # "+CME ERROR: 58" (AT+CMEE=1): tells a probe's answer from the rest
    PLAIN = "plain"  # "ERROR" (AT+CMEE=0 or 2): like any failure's


class EchoHabit(Enum):
    """When the module echoes a line, as seen."""

    UNSEEN = "unseen"
    LATE = "late"  # only once the lines before it had their answers (when it reads it)
    WHILE_BUSY = "while_busy"  # at once (its UART): an earlier line's OK came after a probe's echo


ECHO_HABIT_MOVES: dict[EchoHabit, frozenset[EchoHabit]] = {
    EchoHabit.UNSEEN: frozenset({EchoHabit.LATE, EchoHabit.WHILE_BUSY}),
    EchoHabit.LATE: frozenset({EchoHabit.WHILE_BUSY}),  # a busy time shows what calm hid
    EchoHabit.WHILE_BUSY: frozenset(),
}
"""Allowed moves of :class:`EchoHabit` (what a module was seen to do is never forgotten)."""

OWED_MAX = 256
"""Lines the queue remembers at most (the oldest are forgotten beyond)."""


@dataclass(slots=True)
class _Line:
    text: str
    probe: bool
    read: bool
    numeric: bool = True  # a probe: answered "+CME ERROR: 58", not a plain ERROR
    behind: bool = False  # written while a read line was owed an answer


class AnswerQueue:
    """The lines written and not answered yet, oldest first (see the module docstring)."""

    def __init__(self, probe_prefix: str) -> None:
        self._lines: deque[_Line] = deque(maxlen=OWED_MAX)
        self._probe_prefix = probe_prefix
        self.written_total = 0
        """Lines written, ever."""
        self.answered_total = 0
        """Final results taken (read, or discarded by a hunt), ever."""

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def owed(self) -> int:
        """Lines read by the module and not answered yet."""
        return sum(1 for line in self._lines if line.read)

    def unread(self) -> list[str]:
        """The lines whose echo has not been seen, oldest first."""
        return [line.text for line in self._lines if not line.read]

    def written(self, text: str, *, read: bool, numeric: bool = True) -> None:
        """``text`` was written; ``read`` when no echo will say so (echo off); ``numeric``
        when the module answers an unknown command ``+CME ERROR: 58`` (else plain ``ERROR``)."""
        self.written_total += 1
        lines = self._lines
        behind = bool(lines) and any(line.read for line in lines)
        lines.append(_Line(text, text.startswith(self._probe_prefix), read, numeric, behind))

    def echoed(self, text: str) -> bool:
        """The echo of ``text`` was seen: the oldest unread line with that text is read (False:
        no unread line has that text)."""
        for line in self._lines:
            if not line.read and line.text == text:
                line.read = True
                return True
        return False

    def echoes_found(self, count: int) -> None:
        """The echoes of the ``count`` oldest unread lines were found among discarded bytes."""
        for line in self._lines:
            if count <= 0:
                return
            if not line.read:
                line.read = True
                count -= 1

    def probe_echoed(self, probe: str) -> None:
        """The probe's echo came: unread lines before it were lost."""
        kept: deque[_Line] = deque(maxlen=OWED_MAX)
        before = True
        for line in self._lines:
            if line.text == probe:
                before = False
            if line.read or not before:
                kept.append(line)  # lines after the probe keep their place, read or not
        self._lines = kept

    def answers_discarded(
        self, finals: list[tuple[bool, bool]], probe: str, known: Callable[[str], bool]
    ) -> None:
        """Final results discarded before the probe's echo, in order (``(ok, unknown command)``
        each): they answered lines written before it (never the probe: its echo comes first)."""
        for ok, unknown in finals:
            self.answer(ok=ok, known=known if unknown else None, stop=probe)

    def answer(
        self, *, ok: bool, known: Callable[[str], bool] | None = None, stop: str | None = None
    ) -> str | None:
        """A final result came: the line it answers (None: no read line is owed one).
        ``ok`` for ``OK``, which never answers a probe; ``known`` is given for an unknown
        command's error: whether the module knows a line; ``stop``: a line that cannot be
        answered yet, nor any after it."""
        self.answered_total += 1
        lines = self._lines
        if stop is None and known is None and lines:
            head = lines[0]
            if head.read and not (ok and head.probe):
                return lines.popleft().text  # the common case: the one line in flight
        limit = len(lines)
        if stop is not None:
            limit = next((i for i, line in enumerate(lines) if line.text == stop), limit)
        index = None
        if ok:
            # the oldest read line that is not a probe; read probes before it lost their answers
            index = next((i for i in range(limit) if lines[i].read and not lines[i].probe), None)
            if index is None:
                return None  # an OK no line written is owed (a duplicate, or noise)
        elif known is not None:
            for i in range(limit):
                line = lines[i]
                if not line.read:
                    continue
                if line.probe:
                    if line.numeric:
                        index = i
                        break
                    continue  # its answer, a plain ERROR, was lost
                if not known(line.text):
                    break  # it may be the unknown command: answers go in order
        if index is None:
            index = next((i for i in range(limit) if lines[i].read), None)
        if index is None:
            for _ in range(limit):
                lines.popleft()  # unread lines before the stop: lost
            return None
        for _ in range(index):
            lines.popleft()
        return lines.popleft().text

    def echoed_late(self, text: str) -> bool:
        """Whether the echo of ``text`` (just seen) came only once the lines owed answers when
        it was written had them: what a module that echoes a line when it reads it does (one
        that echoes while busy echoes it before those answers)."""
        for line in self._lines:
            if line.text == text:
                return line.behind
            if line.read:
                return False
        return False  # (not written: nothing to tell)

    def owed_before(self, text: str) -> int:
        """Read lines older than ``text`` still owed an answer."""
        count = 0
        for line in self._lines:
            if line.text == text:
                return count
            count += line.read
        return count

    def forget(self, text: str) -> None:
        """``text`` will get no answer (a restart lost it, or its answer was consumed)."""
        for line in self._lines:
            if line.text == text:
                self._lines.remove(line)
                return

    def restarted(self, last: str | None) -> None:
        """The module restarted: only ``last`` (written after it was up again) may be answered."""
        self._lines.clear()
        if last is not None:  # (written once already: not counted again)
            self._lines.append(_Line(last, last.startswith(self._probe_prefix), False))

    def clear(self) -> None:
        """Nothing is owed (a probe proved the line in step, or the recovery gave up)."""
        self._lines.clear()
