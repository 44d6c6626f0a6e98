"""Which written line a final result answers: the lines still owed an answer, in order.

A module answers the lines it reads one at a time, in order. Most modules echo a line when they
read it, after answering the one before, so the echo of a probe proves that what follows it is
the probe's answer. A module whose UART echoes input while it is busy echoes a probe at once and
answers the lines before it afterwards: then only counting tells the probe's answer from theirs
(issue #22, item 3). This queue does the counting, sans-IO, for :class:`~.core.ChannelCore`.

The rules:

- every line written joins the queue; it is *read* (owed an answer) once its echo was seen,
  parsed or found among bytes discarded while hunting for a probe's echo; with echo off, at once;
- a final result answers the oldest read line; unread lines before it were lost (a module reads
  lines in order), and so are unread lines before a probe when the probe's echo comes;
- an unknown command's error (``+CME ERROR: 58``) answers the oldest read probe when every read
  line before it is a command the module knows (all but those it answered so before: a caller's
  typo): those lost their answers;
- a restart and a proof (a probe answered) empty the queue; so does a recovery that gave up on
  a module whose errors all look alike (``AT+CMEE=0``), as one answer lost on the line would
  otherwise leave every later probe one answer short (the core applies this rule).

When the bookkeeping is off (noise made or destroyed a final), an answer may go to the wrong
line; a probe then ends on the first error after its echo, the plain echo rule, or waits one
probe more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OWED_MAX", "AnswerQueue"]

OWED_MAX = 64
"""Lines the queue remembers at most (the oldest are forgotten beyond)."""


@dataclass(slots=True)
class _Line:
    text: str
    probe: bool
    read: bool


class AnswerQueue:
    """The lines written and not answered yet, oldest first (see the module docstring)."""

    def __init__(self, probe_prefix: str) -> None:
        self._lines: deque[_Line] = deque(maxlen=OWED_MAX)
        self._probe_prefix = probe_prefix

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def owed(self) -> int:
        """Lines read by the module and not answered yet."""
        return sum(1 for line in self._lines if line.read)

    def unread(self) -> list[str]:
        """The lines whose echo has not been seen, oldest first."""
        return [line.text for line in self._lines if not line.read]

    def written(self, text: str, *, read: bool) -> None:
        """``text`` was written; ``read`` when no echo will say so (echo off)."""
        self._lines.append(_Line(text, text.startswith(self._probe_prefix), read))

    def echoed(self, text: str) -> None:
        """The echo of ``text`` was seen: the oldest unread line with that text is read."""
        for line in self._lines:
            if not line.read and line.text == text:
                line.read = True
                return

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
        kept = deque(
            (line for line in self._lines if line.read or line.text == probe), maxlen=OWED_MAX
        )
        # everything after the probe (nothing, as the core writes) keeps its place
        self._lines = kept

    def answers_discarded(self, count: int, probe: str) -> None:
        """``count`` final results were discarded before the probe's echo: they answered the
        oldest read lines (never the probe, whose echo comes before its answer)."""
        lines = self._lines
        while count > 0 and lines:
            head = lines[0]
            if head.text == probe:
                return
            lines.popleft()
            if head.read:
                count -= 1

    def answer(self, known: Callable[[str], bool] | None = None) -> str | None:
        """A final result came: the line it answers (None: no read line is owed one).
        ``known`` is given for an unknown command's error: whether the module knows a line."""
        lines = self._lines
        if known is not None:
            for index, line in enumerate(lines):
                if not line.read:
                    continue
                if line.probe:
                    for _ in range(index):
                        lines.popleft()
                    return lines.popleft().text
                if not known(line.text):
                    break  # it may be the unknown command: answers go in order
        while lines:
            head = lines.popleft()
            if head.read:
                return head.text
        return None

    def forget(self, text: str) -> None:
        """``text`` will get no answer (a restart lost it, or its answer was consumed)."""
        for line in self._lines:
            if line.text == text:
                self._lines.remove(line)
                return

    def restarted(self, last: str | None) -> None:
        """The module restarted: only ``last`` (written after it was up again) may be answered."""
        self._lines.clear()
        if last is not None:
            self.written(last, read=False)

    def clear(self) -> None:
        """Nothing is owed (a probe proved the line in step, or the recovery gave up)."""
        self._lines.clear()
