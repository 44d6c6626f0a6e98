"""HTTP and HTTPS commands of the emulated N58 (manual ch9 / v2.0 ch11) and the server-data relay.

``AT+HTTPPARA``, ``AT+HTTPSETUP``, ``AT+HTTPACTION``, ``AT+HTTPCLOSE`` and their ``HTTPS``
twins. Server bytes are relayed as ``+HTTPRECV`` / ``+HTTPSRECV`` reports (or raw in recvmode 0)
between replies; the end of the connection is reported with ``+HTTPCLOSED``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from . import framing
from .core import Handler, ModuleCore, int_arg, services
from .netlink import NetError, open_connection
from .state import Link, Service, Target, parse_url
from .syntax import Command, split_args

__all__ = ["CONTENT_TYPES", "MAX_POST", "HttpCommands"]

CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json",
    "application/xml",
    "text/html",
)
MAX_POST = 2048


class HttpCommands:
    """Handlers of the HTTP and HTTPS request commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table (both services)."""
        handlers: dict[str, Handler] = {}
        for stem, svc in services(self.module):
            handlers[f"+{stem}PARA"] = functools.partial(self.para, svc)
            handlers[f"+{stem}SETUP"] = functools.partial(self.setup, svc)
            handlers[f"+{stem}ACTION"] = functools.partial(self.action, svc)
            handlers[f"+{stem}CLOSE"] = functools.partial(self.close, svc)
        return handlers

    async def para(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "set":
            self.module._error()
            return
        fields = split_args(cmd.args)
        # a value is bare or in double quotes (quotes removed); a bare "," would be a third
        # parameter and a '"' inside cannot be written: both ERROR (see docs/emulator.md)
        if len(fields) != 2 or not fields[1] or '"' in fields[1]:
            self.module._error()
            return
        name, value = fields[0].lower(), fields[1]
        params = svc.params
        if name == "url":
            if len(value.encode("utf-8", errors="surrogateescape")) > svc.max_url:
                self.module._error()
                return
            try:
                parse_url(value, None, svc.tls)
            except ValueError:
                self.module._error()
                return
            params.url = value
        elif name == "port" and (port := int_arg(value, 1, 65535)) is not None:
            params.port = port
        elif name == "keepalive" and (flag := int_arg(value, 0, 1)) is not None:
            params.keepalive = flag
        elif name == "recvmode" and (flag := int_arg(value, 0, 1)) is not None:
            params.recvmode = flag
        else:
            self.module._error()
            return
        self.module._ok()

    async def setup(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "exec":
            self.module._error()
            return
        try:
            if not self.module.state.pdp_up:
                raise NetError("data link down")
            target = svc.target()
            context = self.module._ssl_context() if svc.tls else None
            self.module._drop_link(svc)
            reader, writer = await open_connection(
                target, self.module.cfg.resolve, context, self.module.cfg.connect_timeout
            )
        except (NetError, ValueError) as exc:
            self.module.log.info("setup failed", service=svc.tag, error=str(exc))
            if self.module.cfg.setup_fail_style == "fail":
                self.module._reply(framing.line(f"+{svc.tag}SETUP: FAIL"))
            else:
                self.module._error()
            return
        link = Link(target.host, target.port, reader, writer, recvmode=svc.params.recvmode)
        svc.link = link
        link.relay = self.module._spawn(self._relay(svc, link), f"n58-relay-{svc.tag}")
        self.module.log.info("link up", service=svc.tag, host=target.host, port=target.port)
        self.module._ok()

    def _usable_link(self, svc: Service) -> tuple[Link, Target] | None:
        link = svc.link
        if not self.module.state.pdp_up or link is None or link.killed:
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

    async def action(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        args = split_args(cmd.args) if cmd.kind == "set" else []
        mode = int_arg(args[0], 0, 99) if args else None
        rng: tuple[int, int] | None = None
        length = 0
        ctype = 0
        if mode in (0, 1) and len(args) in (1, 3):
            if len(args) == 3:
                offset, size = int_arg(args[1], 0, 2**31), int_arg(args[2], 1, 2**31)
                if offset is None or size is None:
                    self.module._error()
                    return
                rng = (offset, size)
        elif mode == 2 and len(args) in (2, 3):
            length = int_arg(args[1], 1, MAX_POST) or 0
            parsed_type = int_arg(args[2], 0, 4) if len(args) == 3 else 0
            if not length or parsed_type is None:
                self.module._error()
                return
            ctype = parsed_type
        elif mode == 99 and len(args) == 2:
            length = int_arg(args[1], 1, MAX_POST) or 0
            if not length:
                self.module._error()
                return
        else:
            self.module._error()
            return
        usable = self._usable_link(svc)
        if usable is None:
            self.module._reply(framing.line(f"+{svc.tag}ACTION: SOCKET ID OPEN FAILED"))
            return
        link, target = usable
        body = b""
        if length:
            data = await self.module._read_data(length)
            if data is None:
                return
            body = data
        if mode == 99:
            request = body
        else:
            method = {0: "GET", 1: "HEAD", 2: "POST"}[mode or 0]
            request = self._request_head(svc, target, method, rng, ctype, len(body)) + body
        if link.killed or link.writer.transport.is_closing() or svc.link is not link:
            self.module._reply(framing.line(f"+{svc.tag}SEND: ERROR"))
            return
        link.recvmode = svc.params.recvmode
        link.header_pending = True
        try:
            link.writer.write(request)
            await link.writer.drain()
        except (OSError, RuntimeError) as exc:
            self.module.log.info("send failed", service=svc.tag, error=str(exc))
            self.module._reply(framing.line(f"+{svc.tag}SEND: ERROR"))
            return
        self.module._ok()

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

    async def close(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind != "exec":
            self.module._error()
            return
        link = self.module._drop_link(svc)
        svc.params = type(svc.params)()
        self.module._ok()
        if link is not None:
            self.module.log.info("link closed by command", service=svc.tag)
            self.module._reply(framing.line(f"+{svc.tag}CLOSE: {svc.tag} Link Closed"))

    async def _relay(self, svc: Service, link: Link) -> None:
        """Forward server bytes to the serial port until the connection ends."""
        while not link.killed:
            await self.module.out.wait_space(self.module.cfg.relay_buffer)
            if link.killed:
                break
            try:
                data = await link.reader.read(self.module.cfg.chunk_size)
            except OSError as exc:
                self.module.log.info("link read failed", service=svc.tag, error=str(exc))
                data = b""
            if not data or link.killed:
                break
            await self.module._wait_idle()
            if link.killed:
                break
            self._emit_relayed(svc, link, data)
        await self.module._wait_idle()
        if svc.link is link:
            svc.link = None
            link.killed = True
            link.abort()
            self.module.log.info("link closed by peer", service=svc.tag)
            self.module.out.put(framing.line(f"+{svc.tag}CLOSED: {svc.tag} Link Closed"))

    def _emit_relayed(self, svc: Service, link: Link, data: bytes) -> None:
        report = f"+{svc.tag}RECV"
        for piece, actions in self.module.faults.split_relayed(data):
            if piece:
                if link.recvmode == 1:
                    self.module.out.put(
                        framing.recv_chunk(report, piece, self.module.cfg.trailing_crlf)
                    )
                elif link.header_pending:
                    link.header_pending = False
                    self.module.out.put(framing.recv_header(report) + piece)
                else:
                    self.module.out.put(piece)
            for action in actions:
                self.module._run_action(action)
            if link.killed or self.module.dead:
                return
