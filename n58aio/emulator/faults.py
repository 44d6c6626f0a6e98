"""Fault injection on a running emulator (``emulator.faults``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from .output import ByteDamage, OutputFaults
from .world import Registration, SimState

__all__ = ["FaultTarget", "Faults", "FrameFaults", "LinkKind"]

LinkKind = Literal["http", "https"]


@dataclass
class FrameFaults:
    """Pending faults on the frames the module sends in multiplexer mode, each for one DLC or
    any (``None``): frames whose FCS is damaged, frames whose closing flag is lost (the frame
    runs into the next one, which loses its opening flag: both are dropped by the host)."""

    damage: int = 0
    damage_dlci: int | None = None
    lost_flags: int = 0
    lost_flag_dlci: int | None = None

    def take_damage(self, dlci: int) -> bool:
        """True when the next frame of ``dlci`` is to be damaged (one fault used up)."""
        if self.damage and self.damage_dlci in (None, dlci):
            self.damage -= 1
            return True
        return False

    def take_lost_flag(self, dlci: int) -> bool:
        """True when the next frame of ``dlci`` loses its closing flag (one fault used up)."""
        if self.lost_flags and self.lost_flag_dlci in (None, dlci):
            self.lost_flags -= 1
            return True
        return False


class FaultTarget(Protocol):
    """What the faults act on (implemented by the module)."""

    def kill_links(self, which: LinkKind | None) -> int:
        """Drop the server connection(s) as if the server closed; returns how many."""
        ...

    def reboot(self) -> None:
        """Reboot the module."""
        ...

    def restart(self, report: bool = True) -> None:
        """Restart the module, with or without a boot report."""
        ...

    def set_sim(self, state: SimState, pin: str | None, puk: str | None) -> None:
        """Change the SIM."""
        ...

    def set_registration(self, state: Registration, cause: int | None) -> None:
        """Change what the network does with the registration."""
        ...

    def set_signal(self, csq: int) -> None:
        """Change the signal level."""
        ...

    def set_network(self, apn: str | None, user: str | None, password: str | None) -> None:
        """Change the APN and credentials the network requires."""
        ...

    def lose_data_link(self) -> bool:
        """Drop the data link with a ``GPRS DISCONNECTION`` report."""
        ...

    def drop_port(self) -> None:
        """Close the serial port for good."""
        ...

    def wedge(self, reset_helps: bool) -> None:
        """Stop answering anything but (with ``reset_helps``) ``AT+CFUN=1,1``."""
        ...

    def inject(self, data: bytes, immediate: bool) -> None:
        """Write raw bytes."""
        ...


class Faults:
    """Faults that tests trigger while the emulator runs.

    Output faults (:meth:`drop_next`, :meth:`garble_next`, :meth:`stall`) apply to every byte
    the module writes, in order, from the moment they are set. :meth:`after_body_bytes` counts
    the server bytes relayed to the serial port (status line and headers included, framing
    excluded) and runs an action once exactly that many more have been written to the queue.
    """

    def __init__(
        self,
        output: OutputFaults,
        target: FaultTarget,
        in_output_order: Callable[[Callable[[], object]], None] | None = None,
    ) -> None:
        self._output = output
        self._target = target
        self._in_output_order = in_output_order  # runs an action once queued output is out
        self._relayed = 0
        self._hooks: list[tuple[int, Callable[[], object]]] = []
        self._command_hooks: list[tuple[bytes, Callable[[], object]]] = []
        self._data_hooks: list[tuple[int, Callable[[], object]]] = []
        self._read_corruptions = 0
        self._read_swaps = 0
        self._swaps_done = 0
        self.frames = FrameFaults()

    @property
    def relayed_bytes(self) -> int:
        """Server bytes relayed so far (all links, since start)."""
        return self._relayed

    def drop_next(self, count: int) -> None:
        """Lose the next ``count`` output bytes."""
        self._output.drop_left += _non_negative(count)

    def garble_next(self, count: int) -> None:
        """Flip every bit of the next ``count`` output bytes (after any dropped ones)."""
        self._output.garble_left += _non_negative(count)

    def damage_byte(self, skip: int, kind: ByteDamage = "replace", value: int = 0x3F) -> None:
        """Once ``skip`` more output bytes have gone out unharmed, replace the next one by
        ``value``, drop it, or insert ``value`` before it: one single-byte line fault."""
        if not 0 <= value <= 255:
            raise ValueError("value must be a byte (0-255)")
        self._output.single = (_non_negative(skip), kind, value)

    def stall(self, seconds: float) -> None:
        """Hold all output for ``seconds`` from now."""
        self._output.stall_until = max(self._output.stall_until, time.monotonic() + seconds)

    def damage_frames(self, count: int = 1, *, dlci: int | None = None) -> None:
        """Multiplexer mode: send the next ``count`` frames (of ``dlci``, or any) with a
        damaged FCS."""
        self.frames.damage += _non_negative(count)
        self.frames.damage_dlci = dlci

    def lose_flags(self, count: int = 1, *, dlci: int | None = None) -> None:
        """Multiplexer mode: lose the closing flag of the next ``count`` frames (of ``dlci``,
        or any); each such frame and the one after it are lost to the host."""
        self.frames.lost_flags += _non_negative(count)
        self.frames.lost_flag_dlci = dlci

    def clear(self) -> None:
        """Cancel pending output faults and body hooks."""
        self.frames.damage = self.frames.lost_flags = 0
        self._output.drop_left = 0
        self._output.garble_left = 0
        self._output.stall_until = 0.0
        self._output.single = None
        self._hooks.clear()
        self._command_hooks.clear()
        self._data_hooks.clear()
        self._read_corruptions = 0
        self._read_swaps = 0

    def close_link(self, which: LinkKind | None = None) -> bool:
        """Drop the HTTP and/or HTTPS server connection now; the module then reports
        ``+HTTPCLOSED``/``+HTTPSCLOSED`` after the data already relayed. False if none was open."""
        return self._target.kill_links(which) > 0

    def reset(self) -> None:
        """Reboot: links dropped, data link down, all settings cleared, then ``+PBREADY``."""
        self._target.reboot()

    def drop_port(self) -> None:
        """Close the serial port: clients see it vanish; the emulator is dead afterwards."""
        self._target.drop_port()

    def wedge(self, *, reset_helps: bool = True) -> None:
        """The module stops answering: no echo, no reply, no report, server links dropped; the
        port stays open. ``AT+CFUN=1,1`` (at the module's rate) still restarts it as
        :meth:`restart` with a boot report does, unless ``reset_helps`` is False; a
        :meth:`restart` (a power cut) always does."""
        self._target.wedge(reset_helps)

    def restart(self, *, report: bool = True) -> None:
        """Restart as after a power cut: links, data link, settings (echo, ``AT+CMEE``,
        ``AT+IPR``, APN) and the line rate forgotten, the SIM locked again; ``+PBREADY`` only
        with ``report`` (at auto-baud: after the first ``AT``)."""
        self._target.restart(report)

    def set_sim(self, state: SimState, *, pin: str | None = None, puk: str | None = None) -> None:
        """Insert, remove, lock or block the SIM (``"ready"``, ``"pin"``, ``"puk"``,
        ``"absent"``), optionally with a new PIN / PUK; takes effect now (a newly locked
        card asks for its PIN from the next restart on)."""
        self._target.set_sim(state, pin, puk)

    def set_registration(self, state: Registration, *, cause: int | None = None) -> None:
        """The network now answers ``"home"``, ``"roaming"``, ``"searching"``, ``"denied"``
        (with reject ``cause``) or ``"idle"``; enabled ``+CREG``/``+CEREG`` reports follow, and
        losing the registration drops the data link."""
        self._target.set_registration(state, cause)

    def set_signal(self, csq: int) -> None:
        """The signal level ``AT+CSQ`` reports (0-31, 99 = none)."""
        if not (0 <= csq <= 31 or csq == 99):
            raise ValueError("csq must be 0-31 or 99")
        self._target.set_signal(csq)

    def set_network(
        self, *, apn: str | None = None, user: str | None = None, password: str | None = None
    ) -> None:
        """The APN, user and password ``AT+XIIC=1`` requires from now on (None: anything)."""
        self._target.set_network(apn, user, password)

    def drop_data_link(self) -> bool:
        """The network drops the data link: server links closed, ``GPRS DISCONNECTION``
        reported, ``AT+XIIC?`` answers 0. False when it was not up."""
        return self._target.lose_data_link()

    def inject(self, data: bytes, *, immediate: bool = False) -> None:
        """Write ``data`` between replies, or with ``immediate`` as soon as possible (it may then
        land inside a reply or a data report)."""
        self._target.inject(data, immediate)

    def after_body_bytes(
        self, count: int, action: Callable[[], object], *, ordered: bool = False
    ) -> None:
        """Run ``action`` (e.g. ``faults.close_link``) once ``count`` more server bytes have been
        relayed; the report holding the boundary is split there.

        The action runs when the boundary is queued for the port; with ``ordered`` it runs when
        the port output reaches the boundary instead, so that output faults it arms
        (``drop_next``, ``garble_next``) hit exactly the bytes written after the boundary.
        """
        if ordered:
            action = self._ordered(action)
        self._hooks.append((self._relayed + _non_negative(count), action))
        self._hooks.sort(key=lambda hook: hook[0])

    def on_command(
        self, prefix: str | bytes, action: Callable[[], object], *, ordered: bool = False
    ) -> None:
        """Run ``action`` once, when the module next receives a command line starting with
        ``prefix`` (case-insensitive), before the line is echoed or handled.

        ``close_link`` then acts before the command runs; with ``reset`` or ``drop_port`` the
        command is lost, as with a module that rebooted or vanished on receiving it. With
        ``ordered`` the action runs when the port output reaches the line's echo (all earlier
        output written), so that output faults it arms hit exactly the echo and the reply.
        """
        key = prefix.encode("ascii") if isinstance(prefix, str) else bytes(prefix)
        self._command_hooks.append((key.upper(), self._ordered(action) if ordered else action))

    def take_command_hooks(self, line: bytes) -> list[Callable[[], object]]:
        """Remove and return the actions armed by :meth:`on_command` that ``line`` triggers."""
        upper = line.upper()
        due = [action for key, action in self._command_hooks if upper.startswith(key)]
        if due:
            self._command_hooks = [h for h in self._command_hooks if not upper.startswith(h[0])]
        return due

    def on_data(
        self, action: Callable[[], object], *, after: int = 1, ordered: bool = False
    ) -> None:
        """Run ``action`` once, in the next data phase (the bytes typed after ``>``), as soon as
        ``after`` of its bytes have been received and before they are echoed or used.

        ``close_link`` then makes the send fail (``+HTTPSEND: ERROR``); with ``reset`` or
        ``drop_port`` the data phase is lost. With ``ordered`` the action runs when the port
        output reaches the echo of those bytes, so that output faults hit that echo.
        """
        action = self._ordered(action) if ordered else action
        self._data_hooks.append((max(1, after), action))

    def corrupt_next_read(self, count: int = 1) -> None:
        """Change one byte of the content of the next ``count`` file reads (``AT+FSRF``,
        ``AT+FSRFEX``) after the checksum was computed: a read the client must catch."""
        self._read_corruptions += _non_negative(count)

    def take_read_corruption(self) -> bool:
        """True (and one fewer left) when the file read being answered is to be corrupted."""
        if self._read_corruptions <= 0:
            return False
        self._read_corruptions -= 1
        return True

    def swap_next_read(self, count: int = 1) -> None:
        """Swap two adjacent, different bytes in the content of the next ``count`` file reads
        (``AT+FSRF``, ``AT+FSRFEX``): the XOR checksum still matches, so only a comparison
        with another read or a known hash can tell. Each swap is one byte further on than the
        last (two damaged reads differ, as with noise). A read whose bytes are all equal is
        answered intact (and does not count)."""
        self._read_swaps += _non_negative(count)

    def take_read_swap(self, data: bytes) -> bytes:
        """``data`` with two different adjacent bytes swapped (from the middle on, plus one
        per swap done before) when a :meth:`swap_next_read` is due (one fewer left)."""
        if self._read_swaps <= 0 or len(data) < 2:
            return data
        start = (len(data) // 2 + self._swaps_done) % (len(data) - 1)
        order = [*range(start, len(data) - 1), *range(start - 1, -1, -1)]
        for index in order:
            if data[index] != data[index + 1]:
                self._read_swaps -= 1
                self._swaps_done += 1
                pair = bytes([data[index + 1], data[index]])
                return data[:index] + pair + data[index + 2 :]
        return data

    def take_data_hooks(self, received: int) -> list[Callable[[], object]]:
        """Remove and return the :meth:`on_data` actions due once ``received`` data bytes of
        the current data phase have arrived."""
        due = [action for after, action in self._data_hooks if after <= received]
        if due:
            self._data_hooks = [hook for hook in self._data_hooks if hook[0] > received]
        return due

    def _ordered(self, action: Callable[[], object]) -> Callable[[], object]:
        queue = self._in_output_order
        if queue is None:  # no output queue to order with: act at once
            return action
        return lambda: queue(action)

    def split_relayed(self, data: bytes) -> Iterator[tuple[bytes, list[Callable[[], object]]]]:
        """Cut relayed data at hook boundaries: yields pieces and the actions due after each."""
        start = 0
        while True:
            due: list[Callable[[], object]] = []
            while self._hooks and self._hooks[0][0] <= self._relayed:
                due.append(self._hooks.pop(0)[1])
            if due:
                yield b"", due
                continue
            if start >= len(data):
                return
            end = len(data)
            if self._hooks:
                end = min(end, start + self._hooks[0][0] - self._relayed)
            piece = data[start:end]
            self._relayed += len(piece)
            start = end
            due = []
            while self._hooks and self._hooks[0][0] <= self._relayed:
                due.append(self._hooks.pop(0)[1])
            yield piece, due


def _non_negative(count: int) -> int:
    if count < 0:
        raise ValueError("count must be >= 0")
    return count
