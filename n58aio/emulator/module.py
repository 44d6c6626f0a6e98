"""The emulated N58: lifecycle, the session loop and the handler table joining the command groups.

One session task takes command lines from the :class:`~.atline.AtLineReader` one at a time and
answers them; a command that is still being handled holds everything else: lines received
meanwhile wait in the reader, and the relay of server data and unsolicited reports wait until the
final result has been queued. All output goes through the single :class:`~.output.OutputChannel`.

Each command group has its own file, mirroring the manual's chapters: ``basic_commands`` (V.250
and identity), ``network_commands`` (network and SIM), ``link_commands`` (data link),
``http_commands`` (HTTP/HTTPS), ``httpscfg`` (TLS settings), ``transfer_commands`` (module-side
transfers) and ``fs_commands`` (file system).
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
from .link_commands import LinkCommands
from .network_commands import NetworkCommands
from .output import OutputChannel, OutputFaults
from .syntax import parse_command
from .transfer_commands import TransferCommands

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
    ) -> None:
        super().__init__(config, fs, output, log, ident)
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
        ):
            handlers.update(group.handlers())
        return handlers

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Boot: send ``+PBREADY`` and start answering commands."""
        self._session = self._spawn(self._session_loop(), "n58-session")

    def feed(self, data: bytes) -> None:
        """Bytes received from the serial port."""
        if self.dead:
            return
        self.reader.feed(data)
        self._input.set()

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
        if self.dead:
            return
        self.log.info("reboot")
        self._stop_everything()
        self.state = self._fresh_state(False)
        self.start()

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

    async def _session_loop(self) -> None:
        if self.cfg.boot_delay > 0:
            await asyncio.sleep(self.cfg.boot_delay)
        self.out.put(framing.line("+PBREADY"))
        me = asyncio.current_task()
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
            finally:
                if self._session is me:
                    self._set_busy(False)

    async def _handle_line(self, event: CommandLine) -> None:
        if not event.text.strip(b" \t") and not event.overflow:
            return
        command = None if event.overflow else parse_command(event.text)
        if self.cfg.command_latency > 0:
            await asyncio.sleep(self.cfg.command_latency)
        self.log.debug("command", line=redact(event.text.decode("latin-1")))
        if command is None:
            self._error()
            return
        handler = self._handlers.get(command.name)
        if handler is None:
            self._error()
            return
        try:
            await handler(command)
        except Exception as exc:  # a bug must not kill the module: answer and go on
            self.log.exception("command failed", command=command.name, error=repr(exc))
            self._error()
