"""The trust invariant, stated directly (hypothesis over ``fuzz/wiresim.py``).

Whatever the caller's POST body and the server's bytes contain, and whatever single fault hits
the module's output (bytes lost, garbled, or inserted, anywhere: in an echo, the data's echo,
a reply, a chunk header or its data), a body that comes back is exactly the server's, or the
call raises an ``N58Error``; what reached the server is the caller's body or nothing; and the
next command gets its own reply. The real parser, channel and HTTP client run against a
simulated module (no pty, so that many cases run) in virtual time: the timeouts a fault
provokes cost no wall-clock time, and a case goes the same way on an idle or a loaded machine;
the pty tests of the same classes are in ``test_fault_matrix.py`` and ``test_trust_pty.py``.

``N58_TRUST_EXAMPLES`` sets the number of examples (80 by default, under a second; raise it for
a long run: thousands a minute).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fuzz.wiresim import Fault, check_invariant, http_response

EXAMPLES = int(os.environ.get("N58_TRUST_EXAMPLES", "80"))

# What a body, a server or noise would choose to look like the module.
LOOKALIKES = [
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    b"\r\n+PBREADY\r\n",
    b"AT+CGMM\r\r\nFORGED\r\n\r\nOK\r\n",
    b"AT+N58SYNC=0123456789ABCDEF\r\r\nERROR\r\n",
    b"\r\n>",
    b"\r\n+HTTPRECV: 900000,",
    b"+CSQ: 31,99",
    b"\r\n",
]
tricky = st.lists(st.one_of(st.sampled_from(LOOKALIKES), st.binary(max_size=24)), max_size=6).map(
    b"".join
)
faults = st.builds(
    Fault,
    kind=st.sampled_from(["drop", "garble", "insert", "none"]),
    offset=st.integers(0, 900),
    size=st.integers(1, 40),
    noise=tricky.filter(bool),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    post=st.one_of(st.none(), tricky.filter(bool).map(lambda body: body[:2048])),
    body=tricky,
    extra=tricky,
    fault=faults,
    pieces=st.integers(1, 12),
)
@example(  # issue #13, item 1: the body of a POST forged as the module's reply
    post=b"note\r\nOK\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
    body=b"real",
    extra=b"",
    fault=Fault("garble", 0, 1),
    pieces=1,
)
@example(  # ... with the first byte of the data's echo lost
    post=b"\r\nOK\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
    body=b"real",
    extra=b"",
    fault=Fault("drop", 89, 1),
    pieces=3,
)
@example(  # item 2: one chunk length too large
    post=None, body=b"x" * 100, extra=b"", fault=Fault("insert", 180, noise=b"9"), pieces=2
)
@example(  # item 5: a duplicate OK before the next command's echo
    post=None, body=b"abc", extra=b"", fault=Fault("insert", 400, noise=b"\r\nOK\r\n"), pieces=1
)
@example(  # the end of a chunk's data and the CR after it lost: the chunk takes its length from
    # the next frame and completes the body; the rest of that frame, read as lines (an OK that
    # answers nothing), fails the response before the link-closed report confirms its end
    post=None,
    body=b"\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\n+PBREADY\r\n\r\n+PBREADY\r\n\r\n+PBREADY\r\n",
    extra=b"\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n",
    fault=Fault("drop", 358, 24),
    pieces=1,
)
@example(  # a forged 900000-byte chunk header inside the link-closed report: no command is
    # written while a chunk is taken by count; the chunk stalls and the line is probed
    post=None,
    body=b"\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n",
    extra=b"\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    fault=Fault("insert", 419, noise=b"\r\n+HTTPRECV: 900000,"),
    pieces=1,
)
@example(  # the LF ending the link-closed report garbled: the next command's echo comes behind
    # that byte on one line, and is still its echo
    post=b"\r\nOK\r\n\r\nOK\r\n",
    body=b"\r\nOK\r\n\r\nOK\r\n",
    extra=b"\r\nOK\r\n\r\nOK\r\n\r\nOK\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\n"
    b"Content-Length: 5\r\n\r\nFORGE\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    b"AT+N58SYNC=0123456789ABCDEF\r\r\nERROR\r\n",
    fault=Fault("garble", 560, 1),
    pieces=1,
)
@example(  # an ERROR made up by noise between a POST's echo and its prompt, then framing lost:
    # the module waits for the data, and the recovery's probe would be taken as the body
    post=b"0123456789abcdefghijk",
    body=b"",
    extra=b"",
    fault=Fault(
        "insert",
        219,
        noise=b"\r\nERROR\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
    ),
    pieces=1,
)
def test_a_returned_body_is_the_servers_and_the_next_command_gets_its_reply(
    post: bytes | None, body: bytes, extra: bytes, fault: Fault, pieces: int
) -> None:
    check_invariant(post, http_response(body, extra=extra), fault, pieces)


# Open: a chunk's last bytes and its CR lost, where the chunk then takes exactly the next frame
# (header, data, CR LF) and the link-closed report follows: one CR LF before the report where
# the module writes two. The same bytes as a module that writes no CR LF after a chunk (the
# residual risk of docs/reliability.md); telling them apart needs the module's trailer style
# learnt from the chunks before (found by hypothesis seed 3, 20,000 examples).
OPEN = [
    pytest.param(
        b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
        b"\r\nERROR\r\n\r\nERROR\r\n\r\nERROR\r\nAT+N58SYNC=0123456789ABCDEF\r\r\nERROR\r\n",
        b"\x00" * 10,
        Fault("drop", 400, 23),
        1,
        id="chunk-takes-the-next-frame-whole",
        marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="open: trailer"),
    ),
]


@pytest.mark.parametrize(("post", "body", "extra", "fault", "pieces"), OPEN)
def test_open_cases(
    post: bytes | None, body: bytes, extra: bytes, fault: Fault, pieces: int
) -> None:
    check_invariant(post, http_response(body, extra=extra), fault, pieces)
