"""The emulated N58: lifecycle, the session loop and the handler table joining the command groups.

One session task takes command lines from the :class:`~.atline.AtLineReader` one at a time and
answers them; a command that is still being handled holds everything else: lines received
meanwhile wait in the reader, and the relay of server data and unsolicited reports wait until the
final result has been queued. All output goes through the single :class:`~.output.OutputChannel`.

Each command group has its own file, mirroring the manual's chapters: ``basic_commands`` (V.250
and identity), ``network_commands`` (network and SIM), ``link_commands`` (data link),
``http_commands`` (HTTP/HTTPS), ``httpscfg`` (TLS settings), ``transfer_commands`` (module-side
transfers), ``fs_commands`` (file system) and ``sms_commands`` (the SMS settings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from ..redact import redact
from . import framing
from .atline import CommandLine
from .basic_commands import MANUFACTURER, MODEL, REVISION, BasicCommands
from .config import EmulatorConfig
from .core import Handler, ModuleCore
from .faults import Faults
from .filesystem import ModuleFS
from .fs_commands import FileCommands
from .http_commands import CONTENT_TYPES, HttpCommands
from .httpscfg import TlsCommands
from .linerate import LineRate
from .link_commands import LinkCommands
from .network_commands import NetworkCommands
from .output import OutputChannel, OutputFaults
from .sms_commands import SmsCommands
from .syntax import parse_command
from .transfer_commands import TransferCommands
from .world import PIN_TRIES, Registration, SimState

__all__ = ["CONTENT_TYPES", "MANUFACTURER", "MODEL", "REVISION", "Module"]


class Module(ModuleCore):
    """State and behaviour of one emulated module, independent of the serial front."""

    def __init__(
        self,
        config: EmulatorConfig,
        fs: ModuleFS,
        output: OutputChannel,
        output_faults: OutputFaults,
        log: structlog.typing.FilteringBoundLogger,
        ident: int,
        on_drop_port: Callable[[], None],
        rate: LineRate | None = None,
    ) -> None:
        super().__init__(config, fs, output, log, ident, rate)
        self._waiting_for_at = False
        self._autobaud_seen = b""
        self._wedged = False
        self._reset_helps = True
        self._wedge_seen = b""
        self.faults = Faults(output_faults, self, self.in_output_order)
        self._on_drop_port = on_drop_port
        self._handlers = self._build_handlers()

    def _build_handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {}
        for group in (
            BasicCommands(self),
            NetworkCommands(self),
            LinkCommands(self),
            HttpCommands(self),
            TlsCommands(self),
            TransferCommands(self),
            FileCommands(self),
            SmsCommands(self),
        ):
            handlers.update(group.handlers())
        return handlers

    # ----------------------------------------------------------------- lifecycle

    def start(self, report: bool | None = None) -> None:
        """Boot: send ``+PBREADY`` (unless ``report`` is False, or at auto-baud: then after the
        answer to the first ``AT``) and start answering commands."""
        if report is None:
            report = self.cfg.boot_report
        self._waiting_for_at = self.cfg.auto_baud
        self._autobaud_seen = b""
        self._session = self._spawn(self._session_loop(report), "n58-session")

    def feed(self, data: bytes) -> None:
        """Bytes received from the serial port."""
        if self.dead:
            return
        if self.rate.mismatch():
            data = self.rate.garble(data)  # sent at another rate than the module runs at
        if self._wedged:
            self._watch_for_reset(data)
            return
        if self._waiting_for_at:
            data = self._autobaud(data)
            if not data:
                return
        self.reader.feed(data)
        self._input.set()

    def _autobaud(self, data: bytes) -> bytes:
        """At auto-baud the module ignores everything until it sees ``AT`` at a rate it can
        detect; it then locks onto that rate and takes the line from the ``AT`` on."""
        seen = (self._autobaud_seen + data)[-4096:]
        found = seen.upper().find(b"AT")
        if found < 0:
            self._autobaud_seen = seen[-1:]
            return b""
        if not self.rate.detect():
            self._autobaud_seen = b""
            return b""
        self._waiting_for_at = False
        self._autobaud_seen = b""
        self.log.info("auto-baud locked", rate=self.rate.module_rate)
        return seen[found:]

    def wedge(self, reset_helps: bool) -> None:
        """Fault API: stop answering (no echo, no reply, no report); only ``AT+CFUN=1,1`` still
        restarts the module, and not even that without ``reset_helps``."""
        if self.dead:
            return
        self.log.info("wedged", reset_helps=reset_helps)
        self._stop_everything()
        self._wedged = True
        self._reset_helps = reset_helps
        self._wedge_seen = b""

    def _watch_for_reset(self, data: bytes) -> None:
        """While wedged: read the line only for the manual's reset ``AT+CFUN=1,1``."""
        seen = (self._wedge_seen + data.upper().replace(b" ", b""))[-64:]
        if b"AT+CFUN=1,1\r" not in seen:
            self._wedge_seen = seen[-16:]
            return
        self._wedge_seen = b""
        if self._reset_helps:
            self.log.info("reset while wedged")
            self.restart(True)

    async def shutdown(self) -> None:
        """Cancel every task and drop the links."""
        self.dead = True
        self._stop_everything()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _stop_everything(self) -> None:
        current = asyncio.current_task()
        for svc in (self.state.http, self.state.https):
            self._drop_link(svc)
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        if current is not None and current in self._tasks:
            current.cancel()
        self._session = None
        self._attach = None
        self.reader.clear()
        self.out.clear()
        self._busy = False
        self._idle.set()

    def reboot(self) -> None:
        """Module reboot: everything dropped and cleared, then ``+PBREADY`` again."""
        self.restart(True)

    def restart(self, report: bool = True) -> None:
        """Restart: links, data link, settings and line rate forgotten; the SIM asks for its
        PIN again; ``+PBREADY`` when ``report`` (at auto-baud only after the first ``AT``)."""
        if self.dead:
            return
        self.log.info("restart", report=report)
        self._wedged = False
        self._stop_everything()
        self.state = self._fresh_state(False)
        self.rate.reset()
        if self.cfg.baud is not None:
            self.out.pacer.set_baud(self.cfg.baud)
        self.start(report)

    def set_sim(self, state: SimState, pin: str | None, puk: str | None) -> None:
        """Fault API: change the SIM."""
        was_ready = self.sim_ready
        self.sim.state = state
        self.sim.pin = pin if pin is not None else self.sim.pin
        self.sim.puk = puk if puk is not None else self.sim.puk
        if state == "pin" and was_ready:
            self.state.sim_unlocked = True  # a lock set now asks from the next restart on
        if state == "ready":
            self.sim.tries_left = PIN_TRIES
        if self.sim_ready != was_ready:
            self.announce_registration()

    def set_registration(self, state: Registration, cause: int | None) -> None:
        """Fault API: change the registration outcome."""
        self.net.registration = state
        self.net.reject_cause = cause
        self.announce_registration()

    def set_signal(self, csq: int) -> None:
        """Fault API: change the signal level."""
        self.net.csq = csq

    def set_network(self, apn: str | None, user: str | None, password: str | None) -> None:
        """Fault API: change the APN and credentials required."""
        self.net.apn, self.net.user, self.net.password = apn, user, password

    def drop_port(self) -> None:
        """Close the serial port for good."""
        if self.dead:
            return
        self.log.info("port dropped")
        self.dead = True
        self._stop_everything()
        self._on_drop_port()

    def inject(self, data: bytes, immediate: bool) -> None:
        """Write raw bytes now, or at the next point between replies."""
        if self.dead:
            return
        if immediate:
            self.out.put_urgent(data)
        else:
            self._spawn(self._put_when_idle(data), "n58-inject")

    # ----------------------------------------------------------------- command loop

    async def _session_loop(self, report: bool) -> None:
        if self.cfg.boot_delay > 0:
            await asyncio.sleep(self.cfg.boot_delay)
        ready_after_first = report and self._waiting_for_at
        if report and not ready_after_first:
            self.out.put(framing.line("+PBREADY"))
        me = asyncio.current_task()
        first = True
        while True:
            event = await self._next_event()
            if not isinstance(event, CommandLine):
                continue
            self._set_busy(True)
            try:
                for action in self.faults.take_command_hooks(event.text):
                    self._run_action(action)
                if self._session is not me or self.dead:
                    return  # the action rebooted the module or dropped the port
                if self.state.echo:
                    self.out.put(event.echo)
                await self._handle_line(event)
                if first and ready_after_first:
                    self.out.put(framing.line("+PBREADY"))  # ch02: OK, then +PBREADY
                first = False
            finally:
                if self._session is me:
                    self._set_busy(False)

    async def _handle_line(self, event: CommandLine) -> None:
        if not event.text.strip(b" \t") and not event.overflow:
            return
        command = None if event.overflow else parse_command(event.text)
        if self.cfg.command_latency > 0:
            await asyncio.sleep(self.cfg.command_latency)
        self.log.debug("command", line=_loggable(event.text))
        if command is None:
            self._error()
            return
        handler = self._handlers.get(command.name)
        if handler is None:
            self._cme(58)  # captured: an unknown command is +CME ERROR: 58 with AT+CMEE=1
            return
        try:
            await handler(command)
        except Exception as exc:  # a bug must not kill the module: answer and go on
            self.log.exception("command failed", command=command.name, error=repr(exc))
            self._error()


_SECRET_COMMANDS = (b"AT+CPIN", b"AT+XGAUTH", b"AT+CLCK", b"AT+CPWD")


def _loggable(line: bytes) -> str:
    """A command line for the log: PINs, PUKs and APN passwords left out."""
    upper = line.upper().replace(b" ", b"")
    for stem in _SECRET_COMMANDS:
        if upper.startswith(stem + b"="):
            return stem.decode() + "=<redacted>"
    return redact(line.decode("latin-1"))
