"""A sans-IO model of the N58 as the channel sees it: bytes in, bytes out, times given.

No asyncio, no clock: the shell (:mod:`fuzz.sim.line`) calls :meth:`SimN58.receive` with the
host's bytes, :meth:`SimN58.poll` at :meth:`SimN58.next_deadline`, and drains
:attr:`SimN58.tx` into the line as fast as the line and the host's buffer take it.

What it models (reply formats as in ``n58aio/emulator``):

- a command line ends in ``<CR>``; with echo on every byte is echoed as it arrives, even while
  an earlier command is still being worked on (the UART echoes; commands queue behind it), or,
  with :attr:`Behaviour.echo_while_busy` off, when the module reads the line;
- commands run one at a time, each for a short time or, when the :class:`Behaviour` says so, for
  seconds (busy); replies: ``AT``, ``ATI``, ``AT+CSQ``, ``AT+CGMR``, ``ATE0``/``ATE1``,
  ``AT+CMEE``, the HTTP subset, and for anything else (the channel's probe among them)
  ``+CME ERROR: 58`` with CMEE=1, else ``ERROR``; a final result may be duplicated;
- ``AT+HTTPACTION=0``: ``OK``, then the server's response in ``+HTTPRECV: <len>,<data>`` chunks,
  produced only while the line keeps up (flow control) and the module is idle, then
  ``+HTTPCLOSED``; ``AT+HTTPACTION=99,<len>``: the ``>`` data phase first (data echoed, given up
  with ``OPERATION EXPIRED``);
- restarts: output cut, queued input lost, seconds of silence, ``+PBREADY`` (or nothing), echo
  on again;
- a server that pauses between chunks (the line stays quiet, the link open);
- noise on the host's writes while echo is on (the echo shows it), never in a data phase;
- line noise on the module's output: bytes flipped, dropped or inserted, or a whole part of a
  frame lost (a final result, a chunk's line end, a report), but never where no
  AT-level reader could see it (the residual risks of docs/reliability.md, caught above the
  channel by HTTP framing or TLS, if at all): inside the data of a chunk, in the line start or
  name of a report, in the text of a reply's information lines, at the start of a final result
  or prompt line, in a final result that is then duplicated, in a chunk's length making it
  exactly 2 too large (it ends on its own CR LF), or in the echo of a line input noise struck.

Every executed command is recorded (:class:`Execution`); ``AT+CSQ`` answers carry the
execution's serial in their values, so the checker can tell whose reply a caller got.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Behaviour", "Execution", "SimN58", "csq_serial"]

Exposure = bool | Literal["text"]
"""How noise may strike a part of a frame (see :meth:`SimN58._frame`)."""
_LINE_ENDS = b"\r\n"

MANUFACTURER = "Neoway"
MODEL = "N58"
REVISION = "N58-R07-STD-BZ-SIM"
CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


@dataclass
class Behaviour:
    """The module's dice: how slow, how noisy, how often it restarts (all from one RNG)."""

    rng: random.Random
    command_time: tuple[float, float] = (0.002, 0.02)
    busy_chance: float = 0.0
    busy_time: tuple[float, float] = (0.5, 4.0)
    setup_busy_time: tuple[float, float] = (0.5, 12.0)
    duplicate_final_chance: float = 0.0
    noise_chance: float = 0.0  # per output frame
    restart_times: list[float] = field(default_factory=list)
    boot_time: tuple[float, float] = (0.3, 2.0)
    boot_report: bool = True  # False: the module comes back silently (auto-baud)
    echo_while_busy: bool = True
    """True: each byte is echoed as it comes (the UART's echo). False: a line that comes while
    the module is busy is echoed when the module reads it, after answering the one before."""
    chunk_size: tuple[int, int] = (1, 1460)
    relay_buffer: int = 4096  # output the module holds before it stops reading the server
    data_timeout: float = 30.0
    server_stall_chance: float = 0.0  # per chunk: the server pauses before the next
    server_stall_time: tuple[float, float] = (0.2, 5.0)
    loss_chance: float = 0.0  # per output frame: a part of it lost whole
    rx_noise_chance: float = 0.0  # per write of the host: a byte flipped, dropped or inserted
    server_rng: random.Random = field(default_factory=lambda: random.Random(0))
    """The server's and the loss's own dice (so that other dice fall as before)."""
    busy: dict[str, list[float]] = field(default_factory=dict)
    """Scripted busy times: the next runs of a command line take these many seconds extra."""

    def command_seconds(self, line: str) -> float:
        """How long the module works on ``line`` before it answers."""
        low, high = self.command_time
        seconds = self.rng.uniform(low, high)
        scripted = self.busy.get(line)
        if scripted:
            return seconds + scripted.pop(0)
        if self.busy_chance and self.rng.random() < self.busy_chance:
            # within the manual's timeout of the command: 30 s for a setup, 5 s for the rest
            low, high = self.setup_busy_time if "SETUP" in line.upper() else self.busy_time
            seconds += self.rng.uniform(low, high)
        return seconds


@dataclass(frozen=True, slots=True)
class Execution:
    """One command the module ran: its line, when it came and ended, and its answer."""

    serial: int
    line: str
    received: float
    answered: float
    lines: tuple[str, ...]
    final: str


def _overrun(size: int) -> Callable[[bytes], bool]:
    """Whether a struck chunk frame of ``size`` data bytes claims ``size + 2``: it then ends on
    the chunk's own CR LF, and the next frame's CR LF follows it, exactly as a module that
    writes no CR LF after a chunk sends data ending in CR LF. Nothing can tell the two without
    holding back the end of every response that ends in CR LF (a chunked body's last bytes)
    until the module writes more, which a kept-alive link may not do: a residual risk of
    docs/reliability.md, not counted against the channel."""

    def spare(frame: bytes) -> bool:
        header = _RECV_LENGTH.match(frame)
        return header is not None and int(header.group(1)) == size + 2 and frame[-2:] == b"\r\n"

    return spare


_RECV_LENGTH = re.compile(rb"\r\n\+HTTPRECV: ?([0-9]+),")


def csq_serial(line: str) -> int | None:
    """The execution serial an ``AT+CSQ`` answer line carries, if it is one."""
    if not line.startswith("+CSQ: "):
        return None
    try:
        rssi, ber = (int(part) for part in line[6:].split(","))
    except ValueError:
        return None
    return rssi + 32 * ber


@dataclass(slots=True)
class _Running:
    line: str
    received: float
    done_at: float


class SimN58:
    """The module (see the module docstring)."""

    def __init__(self, behaviour: Behaviour, response: bytes = b"") -> None:
        self.behaviour = behaviour
        self.rng = behaviour.rng
        self.response = response
        """What the simulated server sends for each ``AT+HTTPACTION``."""
        self.tx = bytearray()
        """Output not yet on the line."""
        self.executions: list[Execution] = []
        self.trace: list[str] = []
        self.restarts = 0
        self.noise_hits = 0
        self.requests = 0
        self.received_data: list[bytes] = []
        """The data of each completed data phase (what reached the server)."""
        self.lines_out: set[str] = set()
        """Text lines the module wrote as lines (reports, information lines)."""
        self.echo = True
        self.cmee = 0
        self._line = bytearray()
        self._queue: deque[tuple[str, float, bytes, bool]] = deque()  # line, when, echo held
        self._held = bytearray()  # echo of the line being typed, held while the module is busy
        self._held_spared = False  # the held echo is of bytes input noise struck (see receive)
        self._running: _Running | None = None
        self._booting_until: float | None = None
        self._restart_at = sorted(behaviour.restart_times)
        self._link = False
        self._relay: int | None = None  # offset in the response being relayed
        self._want = 0  # data bytes the open data phase still takes
        self._data = bytearray()
        self._data_deadline: float | None = None
        self._serial = 0
        self._server_ready_at: float | None = None  # the server pauses until then

    # ------------------------------------------------------------------ inputs
    def receive(self, data: bytes, now: float) -> None:
        """Bytes from the host arrived."""
        self.poll(now)
        if self._booting_until is not None:
            return  # a restarting module reads nothing
        chance = self.behaviour.rx_noise_chance
        spared = False
        if chance and self.echo and not self._want and self.behaviour.server_rng.random() < chance:
            # noise on the way in, where the echo shows it (not in data: nothing could); its
            # echo is spared from output noise, which could damage it back into the line sent
            # (the module ran another command than the one its echo shows: nothing can tell)
            data = self._noise(data)
            spared = True
        for byte in data:
            if self._want:
                self._data.append(byte)
                self._want -= 1
                if self.echo:
                    self._echo(byte, spared)
                if not self._want:
                    self._data_done(now)
                continue
            if self.echo:
                if self._held or not (self.behaviour.echo_while_busy or self._idle()):
                    self._held.append(byte)  # echoed when the module reads the line
                    self._held_spared = self._held_spared or spared
                else:
                    self._echo(byte, spared)
            if byte == 13:
                line = self._line.decode("latin-1")
                self._line.clear()
                if line:
                    self._queue.append((line, now, bytes(self._held), self._held_spared))
                    self._held.clear()
                    self._held_spared = False
            elif byte != 10:
                self._line.append(byte)
        self.poll(now)

    def poll(self, now: float) -> None:
        """Do whatever is due at ``now``: restarts, answers, the next command, relaying."""
        while True:
            if self._restart_at and self._restart_at[0] <= now:
                self._restart_at.pop(0)
                self._restart(now)
                continue
            if self._booting_until is not None:
                if self._booting_until > now:
                    return
                self._booting_until = None
                if self.behaviour.boot_report:
                    self.lines_out.add("+PBREADY")
                    self._out(b"\r\n+PBREADY\r\n")
                continue
            if self._data_deadline is not None and self._data_deadline <= now:
                self._data_deadline = None
                self._want = 0
                self.lines_out.add("OPERATION EXPIRED")
                self._out(b"\r\nOPERATION EXPIRED\r\n")
                self._running = None
                continue
            running = self._running
            if running is not None and self._want == 0 and self._data_deadline is None:
                if running.done_at > now:
                    return
                self._running = None
                self._answer(running, now)
                continue
            if running is None and self._queue:
                line, received, held, spared = self._queue.popleft()
                for byte in held:
                    self._echo(byte, spared)
                seconds = self.behaviour.command_seconds(line)
                self._running = _Running(line, received, now + seconds)
                continue
            break
        if self._running is None and self._relay is not None:
            self._relay_some(now)

    def _idle(self) -> bool:
        return self._running is None and not self._queue and self._booting_until is None

    def next_deadline(self) -> float | None:
        """When :meth:`poll` has something to do next without new input."""
        times = []
        if self._restart_at:
            times.append(self._restart_at[0])
        if self._booting_until is not None:
            times.append(self._booting_until)
        elif self._data_deadline is not None:
            times.append(self._data_deadline)
        elif self._running is not None:
            times.append(self._running.done_at)
        elif self._relay is not None and self._server_ready_at is not None:
            times.append(self._server_ready_at)
        return min(times) if times else None

    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes of output for the line."""
        data = bytes(self.tx[:size])
        del self.tx[:size]
        return data

    # ------------------------------------------------------------------ commands
    def _answer(self, running: _Running, now: float) -> None:
        line = running.line
        text = line.upper().replace(" ", "")
        lines: list[str] = []
        final = "OK"
        after = b""
        if text == "AT":
            pass
        elif text == "ATI":
            lines = [MANUFACTURER, MODEL, f"Revision: {REVISION}"]
        elif text in ("AT+CGMR", "AT+GMR"):
            lines = [REVISION]
        elif text == "AT+CSQ":
            serial = self._serial + 1
            lines = [f"+CSQ: {serial % 32},{serial // 32}"]
        elif text in ("ATE0", "ATE1", "ATE"):
            self.echo = text == "ATE1"
        elif text.startswith("AT+CMEE="):
            value = text[8:]
            if value in ("0", "1", "2"):
                self.cmee = int(value)
            else:
                final = self._error_text()
        elif text == "AT+CMEE?":
            lines = [f"+CMEE: {self.cmee}"]
        elif text.startswith("AT+HTTPPARA="):
            pass
        elif text == "AT+HTTPSETUP":
            self._link = True
        elif text == "AT+HTTPCLOSE":
            if self._link or self._relay is not None:
                after = b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n"
                self.lines_out.add("+HTTPCLOSE: HTTP Link Closed")
            self._link = False
            self._relay = None
        elif text.startswith("AT+HTTPACTION="):
            self._action(running, text[14:], now)
            return
        else:
            final = self._error_text()  # the probe, and anything unknown
        self._record(running, now, lines, final)
        # Noise in a reply's information lines, or around them, would make other lines that
        # nothing can tell from the module's (no checksum): it strikes the final result only.
        # A garbled final result followed by a duplicate reads as one more line and the final
        # result: nobody could tell, so a final result that is duplicated is not garbled.
        chance = self.behaviour.duplicate_final_chance
        duplicate = bool(chance) and self.rng.random() < chance
        self.lines_out.update(lines)
        info = b"".join(b"\r\n" + item.encode() + b"\r\n" for item in lines)
        self._frame(
            (info + b"\r\n", False),
            (final.encode() + b"\r\n" + after, "text" if not duplicate else False),
        )
        if duplicate:
            self._frame((b"\r\n", False), (final.encode() + b"\r\n", "text"))

    def _error_text(self) -> str:
        return "+CME ERROR: 58" if self.cmee == 1 else "ERROR"

    def _record(self, running: _Running, now: float, lines: list[str], final: str) -> None:
        self._serial += 1
        self.executions.append(
            Execution(self._serial, running.line, running.received, now, tuple(lines), final)
        )

    def _action(self, running: _Running, args: str, now: float) -> None:
        parts = args.split(",")
        if not self._link or self._relay is not None:
            self.lines_out.add("+HTTPACTION: SOCKET ID OPEN FAILED")
            self._record(running, now, [], "+HTTPACTION: SOCKET ID OPEN FAILED")
            self._frame((b"\r\n", False), (b"+HTTPACTION: SOCKET ID OPEN FAILED\r\n", "text"))
            return
        if parts[0] == "0" and len(parts) == 1:
            self._start_response(running, now)
        elif parts[0] == "99" and len(parts) == 2 and parts[1].isdigit() and int(parts[1]):
            self._want = int(parts[1])
            self._data.clear()
            self._data_deadline = now + self.behaviour.data_timeout
            self._running = running  # the command goes on until its data is in
            self._frame((b"\r\n", False), (b">", True))
        else:
            final = self._error_text()
            self._record(running, now, [], final)
            self._frame((b"\r\n", False), (final.encode() + b"\r\n", "text"))

    def _data_done(self, now: float) -> None:
        self._data_deadline = None
        self.received_data.append(bytes(self._data))
        running, self._running = self._running, None
        if running is not None:
            self._start_response(running, now)

    def _start_response(self, running: _Running, now: float) -> None:
        self.requests += 1
        self._record(running, now, [], "OK")
        self._frame((b"\r\n", False), (b"OK\r\n", "text"))
        self._relay = 0

    def _relay_some(self, now: float) -> None:
        """Relay the server's bytes while the module's output has room (flow control) and the
        server is not pausing."""
        response = self.response
        behaviour = self.behaviour
        if self._server_ready_at is not None and self._server_ready_at <= now:
            self._server_ready_at = None
        while self._relay is not None and len(self.tx) < behaviour.relay_buffer:
            if self._server_ready_at is not None:
                return  # the server pauses
            offset = self._relay
            if offset >= len(response):
                self._relay = None
                self._link = False
                self.lines_out.add(CLOSED.decode().strip())
                # noise strikes after the report's name: before it, it would make a line that
                # could be any reply's (a fragment such as "LOSED: HTTP Link Closed")
                self._frame((CLOSED[:13], False), (CLOSED[13:], "text"))
                return
            low, high = self.behaviour.chunk_size
            chunk = response[offset : offset + self.rng.randint(low, high)]
            self._relay = offset + len(chunk)
            server = behaviour.server_rng
            if behaviour.server_stall_chance and server.random() < behaviour.server_stall_chance:
                self._server_ready_at = now + server.uniform(*behaviour.server_stall_time)
            # the report's line start and name are spared: a flip in the name that makes another
            # well-formed report name loses the chunk unseen (a residual risk of
            # docs/reliability.md), and noise in the line start ends a line of junk that could be
            # any reply's
            length = b": %d," % len(chunk)
            self._frame(
                (b"\r\n+HTTPRECV", False),  # "\r" garbled there would end a line of junk
                (length, True),
                (chunk, False),
                (b"\r\n", True),
                spare=_overrun(len(chunk)),
            )

    # ------------------------------------------------------------------ restarts, output
    def _restart(self, now: float) -> None:
        self.restarts += 1
        if self.tx:
            del self.tx[self.rng.randint(0, len(self.tx)) :]  # output cut mid-way
        low, high = self.behaviour.boot_time
        self._booting_until = now + self.rng.uniform(low, high)
        self._queue.clear()
        self._line.clear()
        self._held.clear()
        self._held_spared = False
        self._running = None
        self._want = 0
        self._data_deadline = None
        self._link = False
        self._relay = None
        self.echo = True
        self.cmee = 0
        self.trace.append(f"{now:.3f} module restarts")

    def _frame(
        self, *parts: tuple[bytes, Exposure], spare: Callable[[bytes], bool] | None = None
    ) -> None:
        """Queue one unit of output, made of parts that noise may strike (True), may strike
        without making or unmaking a line ("text": a report's or final result's text, where a
        line end would cut off a line of junk that could be any reply's), or not (False).
        ``spare``: a struck frame it returns True for goes out unstruck (the dice fall alike)."""
        whole = parts
        behaviour = self.behaviour
        if behaviour.loss_chance and behaviour.server_rng.random() < behaviour.loss_chance:
            exposed = [index for index, (_, open_) in enumerate(parts) if open_]
            if exposed:
                self.noise_hits += 1
                lost = behaviour.server_rng.choice(exposed)
                parts = tuple(part for index, part in enumerate(parts) if index != lost)
        if behaviour.noise_chance and self.rng.random() < behaviour.noise_chance:
            exposed = [index for index, (_, open_) in enumerate(parts) if open_]
            if exposed:
                index = self.rng.choice(exposed)
                part, exposure = parts[index]
                struck = list(parts)
                struck[index] = (self._noise(part, keep_lines=exposure == "text"), exposure)
                parts = tuple(struck)
        out = b"".join(part for part, _ in parts)
        if spare is not None and parts is not whole and spare(out):
            out = b"".join(part for part, _ in whole)
        self._out(out)

    def _noise(self, part: bytes, *, keep_lines: bool = False) -> bytes:
        rng = self.rng
        self.noise_hits += 1
        kind = rng.choice(("flip", "drop", "insert"))
        text = [i for i, byte in enumerate(part) if byte not in _LINE_ENDS]
        if keep_lines and kind != "insert" and not text:
            kind = "insert"
        at = (
            rng.choice(text)
            if keep_lines and kind != "insert"
            else rng.randint(0, max(0, len(part) - 1))
        )
        if kind == "insert" or not part:
            noise = rng.choice((b"\x00", b"\xff", b"\r", b"\n", b"O", b"+", rng.randbytes(3)))
            if keep_lines:
                noise = bytes(b"?"[0] if byte in _LINE_ENDS else byte for byte in noise)
            return part[:at] + noise + part[at:]
        if kind == "flip":
            flipped = part[at] ^ (1 << rng.randint(0, 7))
            if keep_lines and flipped in _LINE_ENDS:
                flipped ^= 0x40
            return part[:at] + bytes((flipped,)) + part[at + 1 :]
        size = rng.randint(1, max(1, min(8, len(part) - at)))
        if keep_lines:
            while any(byte in _LINE_ENDS for byte in part[at : at + size]):
                size -= 1
        return part[:at] + part[at + size :]

    def _echo(self, byte: int, spared: bool = False) -> None:
        """Echo one byte; noise strikes an echoed byte at a twentieth of a frame's chance
        (the dice are drawn for a ``spared`` byte too, so that the other dice fall as before)."""
        chance = self.behaviour.noise_chance / 20
        if chance and self.rng.random() < chance and not spared:
            self._out(self._noise(bytes((byte,))))
        else:
            self.tx.append(byte)

    def _out(self, data: bytes) -> None:
        self.tx += data
