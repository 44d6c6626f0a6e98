"""The fault matrix: every fault the emulator injects, at every phase of a request.

Faults: bytes dropped, bytes garbled, an output stall longer than the timeouts, reports injected
into the output, the server link closed, a module reset, the port gone. Phases: the command
(``AT+HTTPACTION``), the ``>`` prompt, the body upload after it, the response head, the
response body, and the closing ``AT+HTTPCLOSE``. Each cell runs in receive modes 1 and 0.

Every cell checks the promise (see :mod:`matrix`): the caller gets a result or a clear
:class:`~n58aio.N58Error` within a bound, never a wrong byte (a complete body is exact, a failed
one a correct prefix, an upload reaches the server exact or not at all), no task and no file
descriptor is left behind, and the next request on the same modem succeeds, or the modem says
it is gone (:class:`~n58aio.PortClosedError`) after the port vanished. The expected outcome of
each cell is in :data:`EXPECTED` (the same table as ``docs/reliability.md``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from matrix import (
    BOUND,
    FAULTS,
    PHASES,
    TIMEOUTS,
    Outcome,
    check_bytes,
    fresh_modem,
    run_cell,
    spy_writes,
)

import n58aio
from n58aio.commands.http import HTTP
from n58aio.emulator.origin import OriginServer, pattern_bytes

OK = "ok"
EXPECTED: dict[tuple[str, str], frozenset[str]] = {}
"""(fault, phase) -> the outcomes allowed (``ok`` or an error class name), in both modes."""


def _expect(fault: str, **phases: str) -> None:
    for phase, outcomes in phases.items():
        EXPECTED[fault, phase] = frozenset(outcomes.split("|"))


# Line noise hitting framing: the command's OK lost -> timeout; the prompt lost -> the module
# gives up (OPERATION EXPIRED) or the caller's timeout; the data's echo damaged -> the command
# fails before anything of it is read as modem output; a report header damaged -> the response
# fails. Leaving a body early (close phase) is not an error for the caller.
for _noise in ("drop", "garble"):
    _expect(
        _noise,
        # the echo damaged: no reply; text while the response's stream is open fails at once
        command="CommandTimeout|ProtocolError",
        prompt="CommandError|CommandTimeout|ProtocolError",
        upload="ProtocolError",
        header="ProtocolError",
        body="ProtocolError",
        close=OK,
    )
_expect(
    "stall",
    command="CommandTimeout",
    prompt="CommandTimeout",
    upload="CommandTimeout",
    header="RequestTimeout",
    body="RequestTimeout",
    close=OK,
)
# Reports written into the output at any point are reports, never reply or data; one written
# inside the echo of the POST data breaks the count: the request fails, nothing is misread.
_expect("inject", command=OK, prompt=OK, upload="ok|ProtocolError", header=OK, body=OK, close=OK)
# Finals that answer nothing, written between replies: no command takes them.
_expect("duplicate", command=OK, prompt=OK, upload=OK, header=OK, body=OK, close=OK)
# A restart nobody sees (its +PBREADY lost): the command in flight is lost (its timeout); the
# link is gone with no report (the response's idle timeout, or the link's failure). Before the
# response is handed out, the failed GET has the module recovered (told by its state) and is
# sent again: the caller gets the response (#23). A POST is never sent again; a body already
# handed out fails.
_expect(
    "silent_reset",
    command=OK,
    prompt="CommandTimeout|CommandError",
    upload="CommandTimeout|CommandError|ProtocolError",
    header=OK,
    body="RequestTimeout|LinkClosedError",
    close=OK,
)
_expect(
    "link_closed",
    command="CommandError",
    prompt="CommandError",
    upload="CommandError",
    header="LinkClosedError",
    body="LinkClosedError",
    close=OK,
)
# A restart loses the command in flight (its timeout, or the +PBREADY grace) and the link;
# a GET not handed out yet is sent again after the recovery, as above. A +PBREADY amid a
# response (header) is not believed (it may be a line of the server's body after a lost
# frame): the request fails, nothing is repaired because of it; the next request finds the
# module restarted by its state and recovers (as in receive mode 0).
_expect(
    "reset",
    command=OK,
    prompt="CommandTimeout|CommandError",
    upload="CommandTimeout|CommandError|ProtocolError",
    header="ok|LinkClosedError",
    body="LinkClosedError",
    close=OK,
)
_expect(
    "port_gone",
    command="PortClosedError",
    prompt="PortClosedError",
    upload="PortClosedError",
    header="PortClosedError",
    body="PortClosedError",
    close=OK,
)

MODE0: dict[tuple[str, str], frozenset[str]] = {
    # Receive mode 0 has no framing: noise or a report inside the response head breaks HTTP
    # parsing (a module restart is seen: +PBREADY ends the raw bytes like the close report).
    ("inject", "header"): frozenset({"ProtocolError"}),
    # The action's OK lost or garbled, the raw response comes anyway: its end (the server
    # may go on sending) fails the command at once instead of at its timeout.
    ("drop", "command"): frozenset({"CommandTimeout", "ProtocolError"}),
    ("garble", "command"): frozenset({"CommandTimeout", "ProtocolError"}),
    # "between replies" is inside the raw response there: the head may break
    ("duplicate", "header"): frozenset({"ok", "ProtocolError"}),
    # The +PBREADY that ends raw bytes is not believed as a report (a server could send its
    # text): nothing is repaired because of it, the request fails; the next one finds the
    # module restarted by its state (a refused link setup) and recovers.
    ("reset", "header"): frozenset({"ok", "LinkClosedError"}),
}
MODE0_BLIND = frozenset(
    {("drop", "body"), ("garble", "body"), ("inject", "body"), ("duplicate", "body")}
)
"""Receive mode 0 cannot detect noise or a report inside raw body bytes (no framing): these
cells may hand back wrong bytes. Documented; use receive mode 1 (the default) or verify
end-to-end (``Modem.download(sha256=...)``)."""

CELL_LIMIT = 8.0
"""A cell's request ends within this: its timeouts (1 s), the close (1.3 s), a resync."""


def expected(fault: str, phase: str, recvmode: int) -> frozenset[str]:
    """The outcomes allowed for a cell."""
    if recvmode == 0 and (fault, phase) in MODE0:
        return MODE0[fault, phase]
    return EXPECTED[fault, phase]


def test_the_table_covers_every_cell() -> None:
    assert set(EXPECTED) == {(fault, phase) for fault in FAULTS for phase in PHASES}


@pytest.mark.parametrize("recvmode", [1, 0], ids=["mode1", "mode0"])
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_matrix(
    fault: str, phase: str, recvmode: int, origin_server: OriginServer, module_fs: Path
) -> None:
    blind = recvmode == 0 and (fault, phase) in MODE0_BLIND
    outcome = await run_cell(
        fault, phase, recvmode, origin_server, module_fs, check_body_bytes=not blind
    )
    where = f"{fault}/{phase}/mode {recvmode}: {outcome.result} {outcome.message}"
    assert outcome.fired, f"{where}: the fault never struck"
    if not blind:
        allowed = expected(fault, phase, recvmode)
        # an error class named in the table, or one derived from it (ReadTimeout is a
        # RequestTimeout, ConnectError a CommandError)
        assert outcome.result in allowed or outcome.kinds & allowed, where
    assert outcome.seconds < CELL_LIMIT, f"{where}: took {outcome.seconds:.1f} s"
    assert outcome.after == ("PortClosedError" if fault == "port_gone" else OK), where


# ---------------------------------------------------------------------- beyond the matrix


async def test_an_abandoned_data_phase_never_swallows_the_next_command(
    origin_server: OriginServer, module_fs: Path
) -> None:
    """The caller gave up on a POST whose prompt was held back: the module may still be in its
    data phase, reading whatever comes as the POST's data. Nothing is written until it must
    have given up, so no command becomes request data and no wrong request reaches the server.
    """
    body = b"tiny"  # shorter than a resync probe: the probe would complete the data phase
    outcome = Outcome("stall", "prompt", 1)
    async with fresh_modem(module_fs, outcome, config={"data_timeout": 4.0}) as (emu, modem):
        modem.channel.module_data_timeout = 4.0
        command = HTTP.action(2, length=len(body), post_type=1)
        emu.faults.on_command(command, lambda: emu.faults.stall(3.0), ordered=True)
        with pytest.raises(n58aio.CommandTimeout):
            await modem.post(
                origin_server.url("/upload/tiny"),
                content=body,
                headers={"Content-Type": "text/plain"},
                timeouts=TIMEOUTS,
            )
        async with asyncio.timeout(BOUND):
            response = await modem.get(origin_server.url("/bytes/100"))
        assert response.content == pattern_bytes(0, 100)
    assert [r.method for r in origin_server.requests] == ["GET"]
    assert "tiny" not in origin_server.uploads


async def test_a_late_prompt_gets_no_data(origin_server: OriginServer, module_fs: Path) -> None:
    """A prompt that comes later than the module's data timeout allows (its output held up):
    the data is not sent (the module may be reading commands again), the command fails."""
    outcome = Outcome("stall", "prompt", 1)
    async with fresh_modem(module_fs, outcome, config={"data_timeout": 1.0}) as (emu, modem):
        modem.channel.module_data_timeout = 1.0
        body = b"AT+XIIC=0\r"  # would take the data link down if read as a command
        command = HTTP.action(2, length=len(body), post_type=1)
        emu.faults.on_command(command, lambda: emu.faults.stall(1.5), ordered=True)
        writes = spy_writes(modem)
        with pytest.raises(n58aio.CommandError, match="OPERATION EXPIRED"):
            await modem.post(
                origin_server.url("/upload/late"),
                content=body,
                headers={"Content-Type": "text/plain"},
                timeouts=n58aio.Timeouts(first_byte=5.0),
            )
        # command lines only, never the data
        assert writes[-2:] == [command.encode() + b"\r", HTTP.close().encode() + b"\r"]
        assert all(line.startswith(b"AT+") for line in writes), writes
        assert emu.pdp_up, "the body was taken as a command"
        response = await modem.get(origin_server.url("/bytes/10"))
        assert response.content == pattern_bytes(0, 10)
    assert "late" not in origin_server.uploads


@pytest.mark.parametrize("count", [1, 2, 3, 10, 18, 19, 100, 1500, 3000])
@pytest.mark.parametrize("fault", ["drop", "garble"])
async def test_noise_at_a_chunk_boundary_never_reaches_the_caller(
    fault: str, count: int, origin_server: OriginServer, module_fs: Path
) -> None:
    """Receive mode 1: bytes lost or garbled from a chunk's leading CRLF through its header and
    into its data (and the following chunks) give an exact body (only the CRLF was lost) or an
    error after a correct prefix, never a wrong byte; the modem works on."""
    outcome = Outcome(fault, "body", 1, expected=pattern_bytes(0, 20000))
    async with fresh_modem(module_fs, outcome) as (emu, modem):
        faults = emu.faults
        noise = faults.drop_next if fault == "drop" else faults.garble_next
        faults.after_body_bytes(6000, lambda: noise(count), ordered=True)
        received = bytearray()
        try:
            async with asyncio.timeout(BOUND):
                async with modem.stream(
                    "GET", origin_server.url("/bytes/20000"), timeouts=TIMEOUTS
                ) as response:
                    async for chunk in response.aiter_bytes():
                        received += chunk
            outcome.result = "ok"
        except n58aio.N58Error as exc:
            outcome.result = type(exc).__name__
        outcome.received = bytes(received)
        check_bytes(outcome)
        if fault == "garble" or count > 2:
            assert outcome.result != "ok", "damaged framing went unnoticed"
        again = await modem.get(origin_server.url("/bytes/500"), timeouts=TIMEOUTS)
        assert again.content == pattern_bytes(0, 500)


async def test_the_emulator_hooks_strike_once_and_exactly(module_fs: Path) -> None:
    """The hooks the matrix relies on: a command hook fires once, at the named command (any
    case); ordered output faults hit exactly the bytes after the trigger (here the echo: without
    it the reply answers nothing, echo on); a data hook sees the data phase."""
    outcome = Outcome("drop", "command", 1)
    async with fresh_modem(module_fs, outcome) as (emu, modem):
        fired: list[str] = []
        emu.faults.on_command("at+csq", lambda: fired.append("csq"))
        assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 24,99"]
        assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 24,99"]
        assert fired == ["csq"]
        echo = len("AT+CGMM\r")
        emu.faults.on_command("AT+CGMM", lambda: emu.faults.drop_next(echo), ordered=True)
        with pytest.raises(n58aio.CommandTimeout):  # the echo lost: the reply is not trusted
            await modem.command("AT+CGMM", timeout=1)
        assert (await modem.command("AT+CGMM", timeout=2)).lines == ["+CGMM: N58"]
        # the echo garbled: not the echo either; the next command is in step after a probe
        emu.faults.on_command("AT+CGMM", lambda: emu.faults.garble_next(echo - 2), ordered=True)
        with pytest.raises(n58aio.CommandTimeout):
            await modem.command("AT+CGMM", timeout=1)
        assert (await modem.command("AT+CGMM", timeout=2)).lines == ["+CGMM: N58"]
        emu.faults.on_data(lambda: fired.append("data"), after=3)
        with pytest.raises(n58aio.CommandError):  # no link: no prompt, no data phase
            await modem.command("AT+HTTPACTION=2,4", data=b"abcd")
        assert fired == ["csq"]
        emu.faults.clear()
        assert modem.channel.wire_errors == 0
