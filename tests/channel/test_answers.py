"""Which written line a final result answers (``n58aio/channel/answers.py``, issue #22 item 3).

Property: a module that answers its lines in order, echoing each when it reads it or at once
(the UART's echo while busy), with no fault on the line: every answer is handed to the very
line it answers, whatever the interleaving of writes, echoes and answers. Then the rules that
repair the count after an answer was lost.
"""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from n58aio.channel.answers import AnswerQueue
from n58aio.channel.core import SYNC_PROBE_PREFIX

PROBE = SYNC_PROBE_PREFIX + "0123456789ABCDEF"

# a line and the answer the module gives it: "ok", "error" or "unknown" (+CME ERROR: 58)
LINES = st.lists(
    st.sampled_from(
        [("AT+CSQ", "ok"), ("ATE1", "ok"), ("AT+HTTPSETUP", "error"), ("P", "unknown")]
    ),
    min_size=1,
    max_size=12,
)


def _known(line: str) -> bool:
    return True


def _text(line: str, index: int) -> str:
    return f"{PROBE}{index}" if line == "P" else line


@settings(max_examples=int(os.environ.get("N58_ANSWER_EXAMPLES", "400")), deadline=None)
@given(lines=LINES, echo_late=st.booleans(), data=st.data())
def test_in_order_answers_go_to_their_own_lines(
    lines: list[tuple[str, str]], echo_late: bool, data: st.DataObject
) -> None:
    queue = AnswerQueue(SYNC_PROBE_PREFIX)
    texts = [_text(line, index) for index, (line, _) in enumerate(lines)]
    written = echoed = answered = 0
    while answered < len(lines):
        moves = []
        if written < len(lines):
            moves.append("write")
        # an echo comes once the line is written; a late echo once the lines before it are
        # answered (the module reads a line after answering the one before)
        if echoed < written and (not echo_late or echoed <= answered):
            moves.append("echo")
        if answered < echoed:
            moves.append("answer")
        move = data.draw(st.sampled_from(moves))
        if move == "write":
            queue.written(texts[written], read=False)
            written += 1
        elif move == "echo":
            queue.echoed(texts[echoed])
            if lines[echoed][0] == "P":
                queue.probe_echoed(texts[echoed])  # as the core does at a probe's echo
            echoed += 1
        else:
            kind = lines[answered][1]
            got = queue.answer(ok=kind == "ok", known=_known if kind == "unknown" else None)
            assert got == texts[answered]
            answered += 1
    assert len(queue) == 0


def test_an_ok_never_answers_a_probe() -> None:
    """A probe whose own answer was lost on the line: the OK of the ATE1 written before the next
    probe tells it, and the next probe's answer is its own."""
    queue = AnswerQueue(SYNC_PROBE_PREFIX)
    for line in (PROBE + "1", "ATE1", PROBE + "2"):
        queue.written(line, read=False)
        queue.echoed(line)
    assert queue.answer(ok=True) == "ATE1"
    assert queue.answer(ok=False, known=_known) == PROBE + "2"
    assert len(queue) == 0


def test_an_unknown_command_error_answers_the_oldest_probe() -> None:
    """A command whose answer was lost on the line: the probe's '+CME ERROR: 58' is its own."""
    queue = AnswerQueue(SYNC_PROBE_PREFIX)
    for line in ("AT+CSQ", PROBE):
        queue.written(line, read=False)
        queue.echoed(line)
    assert queue.answer(ok=False, known=_known) == PROBE
    # but not past a line the module may not know (a caller's typo answers 58 too)
    queue.written("AT+TYPO", read=False)
    queue.echoed("AT+TYPO")
    queue.written(PROBE, read=False)
    queue.echoed(PROBE)
    assert queue.answer(ok=False, known=lambda line: line != "AT+TYPO") == "AT+TYPO"
    assert queue.answer(ok=False, known=_known) == PROBE


def test_unread_lines_before_a_probe_were_lost() -> None:
    """A module that echoes a line when it reads it has read every line before the probe when
    its echo comes: lines not echoed by then were lost (dropped, or their echo damaged)."""
    queue = AnswerQueue(SYNC_PROBE_PREFIX)
    queue.written("AT+CSQ", read=False)
    queue.written(PROBE, read=False)
    queue.echoed(PROBE)
    queue.probe_echoed(PROBE)
    assert queue.owed_before(PROBE) == 0
    assert queue.answer(ok=False) == PROBE


def test_answers_discarded_by_a_hunt_never_answer_its_probe() -> None:
    queue = AnswerQueue(SYNC_PROBE_PREFIX)
    for line in ("ATE1", PROBE):
        queue.written(line, read=True)
    queue.answers_discarded([(True, False), (False, True), (False, False)], PROBE, _known)
    assert queue.owed_before(PROBE) == 0
    assert queue.answer(ok=False, known=_known) == PROBE
