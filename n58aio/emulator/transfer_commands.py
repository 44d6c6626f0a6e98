"""Module-side transfers of the emulated N58: downloads into and uploads from its file system.

``AT+HTTPGET`` / ``AT+HTTPSGET`` (and the ``AP`` variants) with ``+HTTPGETRPT`` reports and
``AT+HTTPGETSTAT``; ``AT+FILEHTTPACTION`` / ``AT+FILEHTTPSACTION`` with ``+FILEHTTPSTAT``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Coroutine
from typing import Any

from .core import Handler, ModuleCore, int_arg, services
from .filesystem import FileSystemError
from .http_commands import CONTENT_TYPES
from .netlink import FetchResult, NetError, fetch
from .state import Service, Target
from .syntax import Command, split_args

__all__ = ["MAX_FILE", "TransferCommands"]

MAX_FILE = 524288
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")


class TransferCommands:
    """Handlers of the module-side transfer commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table (both services)."""
        handlers: dict[str, Handler] = {}
        for stem, svc in services(self.module):
            handlers[f"+FILE{stem}ACTION"] = functools.partial(self.fileaction, svc)
            for prefix in ("", "AP"):
                handlers[f"+{prefix}{stem}GET"] = functools.partial(self.get, svc)
                handlers[f"+{prefix}{stem}GETSTAT"] = functools.partial(self.getstat, svc)
        return handlers

    async def get(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind == "exec":
            args = ["0"]
        elif cmd.kind == "set":
            args = split_args(cmd.args)
        else:
            self.module._error()
            return
        kind = int_arg(args[0], 0, 0)
        check: str | None = None
        if kind is None or len(args) not in (1, 3):
            self.module._error()
            return
        if len(args) == 3:
            if int_arg(args[1], 0, 0) is None or not _HEX32.fullmatch(args[2]):
                self.module._error()
                return
            check = args[2].lower()
        if not self.module.state.pdp_up or svc.params.url is None:
            self.module._error()
            return
        if svc.get_task is not None and not svc.get_task.done():
            self.module._error()
            return
        try:
            target = svc.target()
        except ValueError:
            self.module._error()
            return
        svc.get_state, svc.get_err = 0, None
        svc.get_task = self.module._spawn(self._download(svc, target, check), f"n58-{svc.tag}get")
        self.module._ok()

    async def _fetch(
        self,
        svc: Service,
        target: Target,
        what: str,
        *,
        method: str = "GET",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> FetchResult | None:
        """One request of the module's own (TLS by the module's settings); None, logged, when
        the server cannot be reached or does not answer in time."""
        try:
            context = self.module._ssl_context() if target.tls else None
            return await fetch(
                target,
                self.module.cfg.resolve,
                context,
                method=method,
                headers=headers,
                body=body,
                timeout=self.module._fetch_timeout,
            )
        except (NetError, TimeoutError) as exc:
            self.module.log.info(f"{what} failed", service=svc.tag, error=str(exc))
            return None

    async def _download(self, svc: Service, target: Target, check: str | None) -> None:
        async def report(state: int, err: int | None = None) -> None:
            svc.get_state, svc.get_err = state, err
            suffix = f",{err}" if err is not None else ""
            await self.module._report(f"+{svc.tag}GETRPT: {state}{suffix}")

        result = await self._fetch(svc, target, "download")
        if result is None:
            await report(11)
            return
        if not 200 <= result.status < 300:
            await report(11, result.status)
            return
        name = target.basename or "httpget.bin"
        try:
            self.module.fs.write(name, result.body)
        except FileSystemError:
            await report(11)
            return
        await report(10)
        if self.module.fs.is_zip(result.body):
            try:
                self.module.fs.extract_zip(result.body)
            except FileSystemError as exc:
                self.module.log.info("unzip failed", error=str(exc))
                await report(21)
            else:
                await report(20)
        if check is not None:
            await report(30 if self.module.fs.md5(name) == check else 31)

    async def getstat(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        if cmd.kind not in ("query", "exec"):
            self.module._error()
            return
        suffix = f",{svc.get_err}" if svc.get_err is not None else ""
        self.module._ok(f"+{svc.tag}GETSTAT: {svc.get_state}{suffix}")

    async def fileaction(self, svc_of: Callable[[], Service], cmd: Command) -> None:
        svc = svc_of()
        args = split_args(cmd.args) if cmd.kind == "set" else []
        mode = int_arg(args[0], 0, 1) if args else None
        job: Coroutine[Any, Any, None]
        if mode == 0 and len(args) == 3:
            offset, size = int_arg(args[1], 0, 2**31), int_arg(args[2], 1, MAX_FILE)
            if offset is None or size is None:
                self.module._cme(50)
                return
            target = self._file_target(svc)
            if target is None:
                return
            job = self._file_get(svc, target, offset, size)
        elif mode == 1 and len(args) == 4:
            length, ctype, name = int_arg(args[1], 1, MAX_FILE), int_arg(args[2], 0, 4), args[3]
            if length is None or ctype is None or not name:
                self.module._cme(50)
                return
            target = self._file_target(svc)
            if target is None:
                return
            try:
                content = self.module.fs.read(name)
            except FileSystemError:
                content = b""
            if len(content) < length:
                self.module._cme(50)
                return
            job = self._file_post(svc, target, content[:length], CONTENT_TYPES[ctype])
        else:
            self.module._cme(50)
            return
        svc.file_task = self.module._spawn(job, f"n58-file{svc.tag}")
        self.module._ok()

    def _file_target(self, svc: Service) -> Target | None:
        """Common checks of FILEHTTP(S)ACTION; replies the CME error itself on failure."""
        if not self.module.state.pdp_up:
            self.module._cme(1001)
            return None
        if svc.file_task is not None and not svc.file_task.done():
            self.module._cme(3)
            return None
        try:
            return svc.target()
        except ValueError:
            self.module._cme(3)
            return None

    async def _file_get(self, svc: Service, target: Target, offset: int, size: int) -> None:
        headers = [("Range", f"bytes={offset}-{offset + size - 1}")]
        result = await self._fetch(svc, target, "file get", headers=headers)
        if result is None:
            await self.module._report("+FILEHTTPSTAT: 0,0")
            return
        if not 200 <= result.status < 300:
            await self.module._report(f"+FILEHTTPSTAT: 0,0,{result.status}")
            return
        body = result.body[:size] if result.status == 206 else result.body[offset : offset + size]
        try:
            self.module.fs.write(target.basename or "filehttp.bin", body)
        except FileSystemError:
            await self.module._report("+FILEHTTPSTAT: 0,0")
            return
        await self.module._report(f"+FILEHTTPSTAT: 0,1,{len(body)}")

    async def _file_post(self, svc: Service, target: Target, content: bytes, ctype: str) -> None:
        result = await self._fetch(
            svc, target, "file post", method="POST", headers=[("Content-Type", ctype)], body=content
        )
        if result is None:
            await self.module._report("+FILEHTTPSTAT: 1,0")
            return
        if not 200 <= result.status < 300:
            await self.module._report(f"+FILEHTTPSTAT: 1,0,{result.status}")
            return
        await self.module._report(f"+FILEHTTPSTAT: 1,1,{len(content)}")
