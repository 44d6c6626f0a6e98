"""The emulated N58: command dispatch, HTTP/HTTPS state machine and the server-data relay.

One session task takes command lines from the :class:`~.atline.AtLineReader` one at a time and
answers them; a command that is still being handled holds everything else: lines received
meanwhile wait in the reader, and the relay of server data and unsolicited reports wait until the
final result has been queued. All output goes through the single :class:`~.output.OutputChannel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

from ..redact import redact
from . import framing, httpscfg
from .atline import AtLineReader, CommandLine, DataChunk
from .config import EmulatorConfig
from .faults import Faults, LinkKind
from .filesystem import FileSystemError, ModuleFS
from .fs_commands import FileCommands
from .netlink import NetError, build_ssl_context, fetch, open_connection
from .output import OutputChannel, OutputFaults
from .state import Link, ModuleState, Service, Target, parse_url
from .syntax import Command, parse_command, split_args

__all__ = ["CONTENT_TYPES", "MANUFACTURER", "MODEL", "REVISION", "Module"]

MANUFACTURER = "Neoway"
MODEL = "N58"
REVISION = "N58-R07-STD-BZ-EMU"
CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json",
    "application/xml",
    "text/html",
)
MAX_POST = 2048
MAX_FILE = 524288
FETCH_TIMEOUT = 120.0
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")

Handler = Callable[[Command], Awaitable[None]]


def _int(text: str, low: int, high: int) -> int | None:
    """Decimal integer within [low, high], else None."""
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if low <= value <= high else None


class Module:
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
        self.cfg = config
        self.fs = fs
        self.out = output
        self.log = log
        self.ident = ident
        self.reader = AtLineReader()
        self.state = self._fresh_state(config.pdp_up)
        self.faults = Faults(output_faults, self, self.in_output_order)
        self.dead = False
        self._on_drop_port = on_drop_port
        self._input = asyncio.Event()
        self._busy = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._session: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attach: asyncio.Task[None] | None = None
        self._handlers = self._build_handlers()

    # ----------------------------------------------------------------- lifecycle

    def _fresh_state(self, pdp_up: bool) -> ModuleState:
        return ModuleState(
            echo=self.cfg.echo,
            cmee=self.cfg.cmee,
            pdp_up=pdp_up,
            ip_suffix=2 + self.ident % 250,
        )

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

    def in_output_order(self, action: Callable[[], object]) -> None:
        """Run ``action`` when the output queued so far has been written (fault hooks)."""
        if not self.dead:
            self.out.put_call(functools.partial(self._run_action, action))

    def kill_links(self, which: LinkKind | None) -> int:
        """Abort server connections as if the server had closed them."""
        count = 0
        for svc in self._services(which):
            link = svc.link
            if link is not None and not link.killed:
                link.killed = True
                link.abort()
                count += 1
        return count

    def _services(self, which: LinkKind | None) -> list[Service]:
        if which == "http":
            return [self.state.http]
        if which == "https":
            return [self.state.https]
        return [self.state.http, self.state.https]

    # ----------------------------------------------------------------- plumbing

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{name}-{self.ident}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("task failed", task=task.get_name(), error=repr(task.exception()))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self._idle.clear()
        else:
            self._idle.set()

    async def _wait_idle(self) -> None:
        """Wait until no command is being handled.

        Callers must queue their output right after this returns, without awaiting anything
        in between, or a new command could start first.
        """
        while self._busy:
            await self._idle.wait()

    async def _put_when_idle(self, data: bytes) -> None:
        await self._wait_idle()
        self.out.put(data)

    def _reply(self, data: bytes) -> None:
        self.out.put(data)

    def _cme(self, code: int) -> None:
        self._reply(framing.cme_error(code, self.state.cmee))

    def _ok(self, *lines: str) -> None:
        self._reply((framing.info(*lines) if lines else b"") + framing.OK)

    def _error(self) -> None:
        self._reply(framing.ERROR)

    # ----------------------------------------------------------------- command loop

    async def _next_event(self) -> CommandLine | DataChunk:
        while True:
            event = self.reader.next_event()
            if event is not None:
                return event
            self._input.clear()
            await self._input.wait()

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

    async def _read_data(
        self, length: int, timeout: float | None = None, expired: str = "OPERATION EXPIRED"
    ) -> bytes | None:
        """Prompt, then take exactly ``length`` raw bytes; after ``timeout`` (default: the
        configured data timeout) report ``expired`` and return None."""
        self.out.put(self.cfg.prompt)
        self.reader.expect_data(length)
        parts: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.cfg.data_timeout if timeout is None else timeout):
                while received < length:
                    event = await self._next_event()
                    if not isinstance(event, DataChunk):
                        continue
                    parts.append(event.data)
                    received += len(event.data)
                    me = asyncio.current_task()
                    for action in self.faults.take_data_hooks(received):
                        self._run_action(action)
                    if self._session is not me or self.dead:
                        return None  # the action rebooted the module or dropped the port
                    if self.state.echo and self.cfg.echo_body:
                        self.out.put(event.data)
        except TimeoutError:
            self.reader.cancel_data()
            self._reply(framing.line(expired))
            return None
        return b"".join(parts)

    # ----------------------------------------------------------------- handlers

    def _build_handlers(self) -> dict[str, Handler]:
        http, https = (lambda: self.state.http), (lambda: self.state.https)
        handlers: dict[str, Handler] = {
            "": self._cmd_at,
            "E": self._cmd_echo,
            "I": self._cmd_ati,
            "+CMEE": self._cmd_cmee,
            "+XIIC": self._cmd_xiic,
            "+CGMR": functools.partial(self._cmd_ident, REVISION),
            "+CGMI": functools.partial(self._cmd_ident, MANUFACTURER),
            "+CGMM": functools.partial(self._cmd_ident, MODEL),
            "+CGSN": self._cmd_imei,
            "+GSN": self._cmd_imei,
            "+CSQ": functools.partial(self._cmd_status, "+CSQ: 24,99", True),
            "+CPIN": functools.partial(self._cmd_status, "+CPIN: READY", False),
            "+CREG": functools.partial(self._cmd_status, "+CREG: 0,1", False),
            "+CGATT": functools.partial(self._cmd_status, "+CGATT: 1", False),
            "+HTTPSCFG": self._cmd_httpscfg,
            "+HTTPSCFGA": self._cmd_httpscfg,
        }
        for stem, svc in (("HTTP", http), ("HTTPS", https)):
            handlers[f"+{stem}PARA"] = functools.partial(self._cmd_para, svc)
            handlers[f"+{stem}SETUP"] = functools.partial(self._cmd_setup, svc)
            handlers[f"+{stem}ACTION"] = functools.partial(self._cmd_action, svc)
            handlers[f"+{stem}CLOSE"] = functools.partial(self._cmd_close, svc)
            handlers[f"+FILE{stem}ACTION"] = functools.partial(self._cmd_fileaction, svc)
            for prefix in ("", "AP"):
                handlers[f"+{prefix}{stem}GET"] = functools.partial(self._cmd_get, svc)
                handlers[f"+{prefix}{stem}GETSTAT"] = functools.partial(self._cmd_getstat, svc)
        handlers.update(FileCommands(self).handlers())
        return handlers

    async def _cmd_at(self, cmd: Command) -> None:
        self._ok()

    async def _cmd_echo(self, cmd: Command) -> None:
        if cmd.args in ("", "0"):
            self.state.echo = False
        elif cmd.args == "1":
            self.state.echo = True
        else:
            self._error()
            return
        self._ok()

    async def _cmd_ati(self, cmd: Command) -> None:
        if cmd.args not in ("", "0"):
            self._error()
            return
        self._ok(MANUFACTURER, MODEL, f"Revision: {REVISION}")

    async def _cmd_ident(self, value: str, cmd: Command) -> None:
        if cmd.kind == "test":
            self._ok()
        elif cmd.kind == "exec":
            self._ok(value)
        else:
            self._error()

    async def _cmd_imei(self, cmd: Command) -> None:
        if cmd.kind != "exec":
            self._error()
            return
        self._ok(f"8658{self.ident:011d}")

    async def _cmd_status(self, answer: str, exec_form: bool, cmd: Command) -> None:
        if cmd.kind == ("exec" if exec_form else "query"):
            self._ok(answer)
        elif cmd.kind == "test":
            self._ok()
        else:
            self._error()

    async def _cmd_cmee(self, cmd: Command) -> None:
        if cmd.kind == "query":
            self._ok(f"+CMEE: {self.state.cmee}")
        elif cmd.kind == "test":
            self._ok("+CMEE: (0-2)")
        elif cmd.kind == "set" and (value := _int(cmd.args, 0, 2)) is not None:
            self.state.cmee = value
            self._ok()
        else:
            self._error()

    async def _cmd_xiic(self, cmd: Command) -> None:
        if cmd.kind == "query":
            if self.state.pdp_up:
                self._ok(f"+XIIC:    1,10.0.0.{self.state.ip_suffix}")
            else:
                self._ok("+XIIC:    0,0.0.0.0")
            return
        if cmd.kind == "test":
            self._ok("+XIIC: (0-1)")
            return
        value = _int(cmd.args, 0, 1) if cmd.kind == "set" else None
        if value is None:
            self._error()
            return
        if value == 1:
            if not self.state.pdp_up and self._attach is None:
                self._attach = self._spawn(self._attach_later(), "n58-attach")
        else:
            if self._attach is not None:
                self._attach.cancel()
                self._attach = None
            self.state.pdp_up = False
            self.kill_links(None)
        self._ok()

    async def _attach_later(self) -> None:
        try:
            if self.cfg.attach_delay > 0:
                await asyncio.sleep(self.cfg.attach_delay)
            self.state.pdp_up = True
        finally:
            if self._attach is asyncio.current_task():
                self._attach = None

    async def _cmd_httpscfg(self, cmd: Command) -> None:
        firmware = self.cfg.firmware
        if cmd.kind == "query":
            self._ok(httpscfg.query_answer(self.state.tls, firmware))
        elif cmd.kind == "test":
            self._ok(httpscfg.TEST_ANSWER)
        elif cmd.kind == "set" and httpscfg.apply_setting(self.state.tls, firmware, cmd.args):
            self._ok()
        else:
            self._error()

    async def _cmd_para(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "set":
            self._error()
            return
        fields = split_args(cmd.args)
        # a value is bare or in double quotes (quotes removed); a bare "," would be a third
        # parameter and a '"' inside cannot be written: both ERROR (see docs/emulator.md)
        if len(fields) != 2 or not fields[1] or '"' in fields[1]:
            self._error()
            return
        name, value = fields[0].lower(), fields[1]
        params = svc.params
        if name == "url":
            if len(value.encode("utf-8", errors="surrogateescape")) > svc.max_url:
                self._error()
                return
            try:
                parse_url(value, None, svc.tls)
            except ValueError:
                self._error()
                return
            params.url = value
        elif name == "port" and (port := _int(value, 1, 65535)) is not None:
            params.port = port
        elif name == "keepalive" and (flag := _int(value, 0, 1)) is not None:
            params.keepalive = flag
        elif name == "recvmode" and (flag := _int(value, 0, 1)) is not None:
            params.recvmode = flag
        else:
            self._error()
            return
        self._ok()

    @property
    def _fetch_timeout(self) -> float:
        return max(FETCH_TIMEOUT, self.cfg.connect_timeout)

    def _ssl_context(self) -> ssl.SSLContext:
        return build_ssl_context(self.state.tls, self.fs, self.cfg.firmware)

    async def _cmd_setup(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "exec":
            self._error()
            return
        try:
            if not self.state.pdp_up:
                raise NetError("data link down")
            target = svc.target()
            context = self._ssl_context() if svc.tls else None
            self._drop_link(svc)
            reader, writer = await open_connection(
                target, self.cfg.resolve, context, self.cfg.connect_timeout
            )
        except (NetError, ValueError) as exc:
            self.log.info("setup failed", service=svc.tag, error=str(exc))
            if self.cfg.setup_fail_style == "fail":
                self._reply(framing.line(f"+{svc.tag}SETUP: FAIL"))
            else:
                self._error()
            return
        link = Link(target.host, target.port, reader, writer, recvmode=svc.params.recvmode)
        svc.link = link
        link.relay = self._spawn(self._relay(svc, link), f"n58-relay-{svc.tag}")
        self.log.info("link up", service=svc.tag, host=target.host, port=target.port)
        self._ok()

    def _drop_link(self, svc: Service) -> Link | None:
        """Close the service's link without any report."""
        link, svc.link = svc.link, None
        if link is not None:
            link.killed = True
            if link.relay is not None and link.relay is not asyncio.current_task():
                link.relay.cancel()
            link.abort()
        return link

    def _usable_link(self, svc: Service) -> tuple[Link, Target] | None:
        link = svc.link
        if not self.state.pdp_up or link is None or link.killed:
            return None
        if link.writer.transport.is_closing():
            return None
        try:
            target = svc.target()
        except ValueError:
            return None
        if (target.host.lower(), target.port) != (link.host.lower(), link.port):
            return None
        return link, target

    async def _cmd_action(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        args = split_args(cmd.args) if cmd.kind == "set" else []
        mode = _int(args[0], 0, 99) if args else None
        rng: tuple[int, int] | None = None
        length = 0
        ctype = 0
        if mode in (0, 1) and len(args) in (1, 3):
            if len(args) == 3:
                offset, size = _int(args[1], 0, 2**31), _int(args[2], 1, 2**31)
                if offset is None or size is None:
                    self._error()
                    return
                rng = (offset, size)
        elif mode == 2 and len(args) in (2, 3):
            length = _int(args[1], 1, MAX_POST) or 0
            parsed_type = _int(args[2], 0, 4) if len(args) == 3 else 0
            if not length or parsed_type is None:
                self._error()
                return
            ctype = parsed_type
        elif mode == 99 and len(args) == 2:
            length = _int(args[1], 1, MAX_POST) or 0
            if not length:
                self._error()
                return
        else:
            self._error()
            return
        usable = self._usable_link(svc)
        if usable is None:
            self._reply(framing.line(f"+{svc.tag}ACTION: SOCKET ID OPEN FAILED"))
            return
        link, target = usable
        body = b""
        if length:
            data = await self._read_data(length)
            if data is None:
                return
            body = data
        if mode == 99:
            request = body
        else:
            method = {0: "GET", 1: "HEAD", 2: "POST"}[mode or 0]
            request = self._request_head(svc, target, method, rng, ctype, len(body)) + body
        if link.killed or link.writer.transport.is_closing() or svc.link is not link:
            self._reply(framing.line(f"+{svc.tag}SEND: ERROR"))
            return
        link.recvmode = svc.params.recvmode
        link.header_pending = True
        try:
            link.writer.write(request)
            await link.writer.drain()
        except (OSError, RuntimeError) as exc:
            self.log.info("send failed", service=svc.tag, error=str(exc))
            self._reply(framing.line(f"+{svc.tag}SEND: ERROR"))
            return
        self._ok()

    def _request_head(
        self,
        svc: Service,
        target: Target,
        method: str,
        rng: tuple[int, int] | None,
        ctype: int,
        length: int,
    ) -> bytes:
        lines = [
            f"{method} {target.path} HTTP/1.1",
            f"Host: {target.host_header}",
            f"Connection: {'keep-alive' if svc.params.keepalive else 'close'}",
            "User-Agent: N58-emulator",
        ]
        if rng is not None:
            lines.append(f"Range: bytes={rng[0]}-{rng[0] + rng[1] - 1}")
        if method == "POST":
            lines.append(f"Content-Type: {CONTENT_TYPES[ctype]}")
            lines.append(f"Content-Length: {length}")
        text = "\r\n".join(lines) + "\r\n\r\n"
        return text.encode("utf-8", errors="surrogateescape")

    async def _cmd_close(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "exec":
            self._error()
            return
        link = self._drop_link(svc)
        svc.params = type(svc.params)()
        self._ok()
        if link is not None:
            self.log.info("link closed by command", service=svc.tag)
            self._reply(framing.line(f"+{svc.tag}CLOSE: {svc.tag} Link Closed"))

    # ----------------------------------------------------------------- relay

    async def _relay(self, svc: Service, link: Link) -> None:
        """Forward server bytes to the serial port until the connection ends."""
        while not link.killed:
            await self.out.wait_space(self.cfg.relay_buffer)
            if link.killed:
                break
            try:
                data = await link.reader.read(self.cfg.chunk_size)
            except OSError as exc:
                self.log.info("link read failed", service=svc.tag, error=str(exc))
                data = b""
            if not data or link.killed:
                break
            await self._wait_idle()
            if link.killed:
                break
            self._emit_relayed(svc, link, data)
        await self._wait_idle()
        if svc.link is link:
            svc.link = None
            link.killed = True
            link.abort()
            self.log.info("link closed by peer", service=svc.tag)
            self.out.put(framing.line(f"+{svc.tag}CLOSED: {svc.tag} Link Closed"))

    def _emit_relayed(self, svc: Service, link: Link, data: bytes) -> None:
        report = f"+{svc.tag}RECV"
        for piece, actions in self.faults.split_relayed(data):
            if piece:
                if link.recvmode == 1:
                    self.out.put(framing.recv_chunk(report, piece, self.cfg.trailing_crlf))
                elif link.header_pending:
                    link.header_pending = False
                    self.out.put(framing.recv_header(report) + piece)
                else:
                    self.out.put(piece)
            for action in actions:
                self._run_action(action)
            if link.killed or self.dead:
                return

    def _run_action(self, action: Callable[[], object]) -> None:
        try:
            result = action()
        except Exception as exc:
            self.log.error("fault action failed", error=repr(exc))
            return
        if inspect.isawaitable(result):
            self._spawn(_await(result), "n58-fault-action")

    # ----------------------------------------------------------------- downloads

    async def _report(self, text: str) -> None:
        await self._wait_idle()
        self.out.put(framing.line(text))

    async def _cmd_get(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind == "exec":
            args = ["0"]
        elif cmd.kind == "set":
            args = split_args(cmd.args)
        else:
            self._error()
            return
        kind = _int(args[0], 0, 0)
        check: str | None = None
        if kind is None or len(args) not in (1, 3):
            self._error()
            return
        if len(args) == 3:
            if _int(args[1], 0, 0) is None or not _HEX32.fullmatch(args[2]):
                self._error()
                return
            check = args[2].lower()
        if not self.state.pdp_up or svc.params.url is None:
            self._error()
            return
        if svc.get_task is not None and not svc.get_task.done():
            self._error()
            return
        try:
            target = svc.target()
        except ValueError:
            self._error()
            return
        svc.get_state, svc.get_err = 0, None
        svc.get_task = self._spawn(self._download(svc, target, check), f"n58-{svc.tag}get")
        self._ok()

    async def _download(self, svc: Service, target: Target, check: str | None) -> None:
        async def report(state: int, err: int | None = None) -> None:
            svc.get_state, svc.get_err = state, err
            suffix = f",{err}" if err is not None else ""
            await self._report(f"+{svc.tag}GETRPT: {state}{suffix}")

        try:
            context = self._ssl_context() if target.tls else None
            result = await fetch(target, self.cfg.resolve, context, timeout=self._fetch_timeout)
        except (NetError, TimeoutError) as exc:
            self.log.info("download failed", service=svc.tag, error=str(exc))
            await report(11)
            return
        if not 200 <= result.status < 300:
            await report(11, result.status)
            return
        name = target.basename or "httpget.bin"
        try:
            self.fs.write(name, result.body)
        except FileSystemError:
            await report(11)
            return
        await report(10)
        if self.fs.is_zip(result.body):
            try:
                self.fs.extract_zip(result.body)
            except FileSystemError as exc:
                self.log.info("unzip failed", error=str(exc))
                await report(21)
            else:
                await report(20)
        if check is not None:
            await report(30 if self.fs.md5(name) == check else 31)

    async def _cmd_getstat(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind not in ("query", "exec"):
            self._error()
            return
        suffix = f",{svc.get_err}" if svc.get_err is not None else ""
        self._ok(f"+{svc.tag}GETSTAT: {svc.get_state}{suffix}")

    async def _cmd_fileaction(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        args = split_args(cmd.args) if cmd.kind == "set" else []
        mode = _int(args[0], 0, 1) if args else None
        job: Coroutine[Any, Any, None]
        if mode == 0 and len(args) == 3:
            offset, size = _int(args[1], 0, 2**31), _int(args[2], 1, MAX_FILE)
            if offset is None or size is None:
                self._cme(50)
                return
            target = self._file_target(svc)
            if target is None:
                return
            job = self._file_get(svc, target, offset, size)
        elif mode == 1 and len(args) == 4:
            length, ctype, name = _int(args[1], 1, MAX_FILE), _int(args[2], 0, 4), args[3]
            if length is None or ctype is None or not name:
                self._cme(50)
                return
            target = self._file_target(svc)
            if target is None:
                return
            try:
                content = self.fs.read(name)
            except FileSystemError:
                content = b""
            if len(content) < length:
                self._cme(50)
                return
            job = self._file_post(svc, target, content[:length], CONTENT_TYPES[ctype])
        else:
            self._cme(50)
            return
        svc.file_task = self._spawn(job, f"n58-file{svc.tag}")
        self._ok()

    def _file_target(self, svc: Service) -> Target | None:
        """Common checks of FILEHTTP(S)ACTION; replies the CME error itself on failure."""
        if not self.state.pdp_up:
            self._cme(1001)
            return None
        if svc.file_task is not None and not svc.file_task.done():
            self._cme(3)
            return None
        try:
            return svc.target()
        except ValueError:
            self._cme(3)
            return None

    async def _file_get(self, svc: Service, target: Target, offset: int, size: int) -> None:
        headers = [("Range", f"bytes={offset}-{offset + size - 1}")]
        try:
            context = self._ssl_context() if target.tls else None
            result = await fetch(
                target,
                self.cfg.resolve,
                context,
                headers=headers,
                timeout=self._fetch_timeout,
            )
        except (NetError, TimeoutError) as exc:
            self.log.info("file get failed", service=svc.tag, error=str(exc))
            await self._report("+FILEHTTPSTAT: 0,0")
            return
        if not 200 <= result.status < 300:
            await self._report(f"+FILEHTTPSTAT: 0,0,{result.status}")
            return
        body = result.body[:size] if result.status == 206 else result.body[offset : offset + size]
        try:
            self.fs.write(target.basename or "filehttp.bin", body)
        except FileSystemError:
            await self._report("+FILEHTTPSTAT: 0,0")
            return
        await self._report(f"+FILEHTTPSTAT: 0,1,{len(body)}")

    async def _file_post(self, svc: Service, target: Target, content: bytes, ctype: str) -> None:
        try:
            context = self._ssl_context() if target.tls else None
            result = await fetch(
                target,
                self.cfg.resolve,
                context,
                method="POST",
                headers=[("Content-Type", ctype)],
                body=content,
                timeout=self._fetch_timeout,
            )
        except (NetError, TimeoutError) as exc:
            self.log.info("file post failed", service=svc.tag, error=str(exc))
            await self._report("+FILEHTTPSTAT: 1,0")
            return
        if not 200 <= result.status < 300:
            await self._report(f"+FILEHTTPSTAT: 1,0,{result.status}")
            return
        await self._report(f"+FILEHTTPSTAT: 1,1,{len(content)}")


async def _await(awaitable: Awaitable[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await awaitable
