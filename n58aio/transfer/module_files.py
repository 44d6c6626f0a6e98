"""Transfers the module runs itself, to and from its own file system.

* ``AT+HTTPGET`` / ``AT+HTTPSGET`` (manual 9.6-9.8, 9.16-9.18): the module downloads the URL in
  the background, may unzip it and check its MD5, and reports each step with ``+HTTPGETRPT``.
* ``AT+FILEHTTPACTION`` / ``AT+FILEHTTPSACTION`` (9.19-9.21): GET a byte range of a URL into a
  module file, or POST a module file; the outcome comes as ``+FILEHTTPSTAT``.

Each function holds the modem's HTTP lock (:meth:`~n58aio.http.HttpClient.exclusive`) for the
whole transfer, because the module has one set of parameters per family, and subscribes to the
reports before sending the command, so none can be missed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from ..channel import UrcSubscription
from ..commands.http import HTTP, HTTPS, POST_TYPES, CommandFamily
from ..commands.parameters import bare_parameter
from ..errors import (
    CommandError,
    InvalidValue,
    N58Error,
    ProtocolError,
    RequestTimeout,
    TLSConfigError,
    cme_meaning,
)
from ..http import ModuleURL, TLSConfig
from .errors import ModuleTransferError, PDPNotActiveError
from .modem_api import ModuleFilesModem

__all__ = [
    "GET_STATES",
    "MAX_FILE_TRANSFER",
    "FileTransferResult",
    "ModuleGetResult",
    "ModuleGetStatus",
    "file_download",
    "file_upload",
    "module_get",
    "module_get_status",
]

MAX_FILE_TRANSFER = 524288
"""Largest ``AT+FILEHTTPACTION`` GET size or POST length (manual issue 1.x)."""

GET_STATES: dict[int, str] = {
    0: "unknown result",
    10: "download succeeded",
    11: "download failed",
    20: "unzip succeeded",
    21: "unzip failed",
    30: "MD5 check succeeded",
    31: "MD5 check failed",
}
"""The ``<state_type>`` values of ``+HTTPGETRPT`` and ``+HTTPGETSTAT``."""

_GET_REPORT = re.compile(r"^\+\s*(?:AP)?(HTTPS?)GETRPT\s*:\s*(\d+)\s*(?:,\s*(\d+))?", re.I)
_GET_STAT = re.compile(r"^\+(?:AP)?(HTTPS?)GETSTAT\s*:\s*(\d+)\s*(?:,\s*(\d+))?", re.I)
_FILE_STAT = re.compile(r"^\+FILEHTTPS?STAT\s*:\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*(\d+))?", re.I)
_RESTART_REPORTS = ("+PBREADY", "GPRS DISCONNECTION")
_PDP_NOT_ACTIVE = 1001
_PDP_CODES = frozenset({901, 1001})


@dataclass(frozen=True, slots=True)
class ModuleGetResult:
    """Outcome of :func:`module_get`: the report ``states`` in order (10, 20, 30...), the HTTP
    status a report carried, and what succeeded."""

    states: tuple[int, ...]
    http_status: int | None
    downloaded: bool
    unzipped: bool
    verified: bool


@dataclass(frozen=True, slots=True)
class ModuleGetStatus:
    """``+HTTPGETSTAT: <state>[,<err_code>]``: the last step of the last module download."""

    state: int
    code: int | None

    @property
    def description(self) -> str:
        """The manual's words for :attr:`state`."""
        return GET_STATES.get(self.state, f"state {self.state}")

    @property
    def failed(self) -> bool:
        """True for 11, 21 and 31."""
        return self.state in (11, 21, 31)


@dataclass(frozen=True, slots=True)
class FileTransferResult:
    """A successful ``+FILEHTTPSTAT``: ``mode`` 0 (GET) or 1 (POST), the ``length`` the module
    reported, and the report line."""

    mode: Literal[0, 1]
    length: int | None
    report: str


# ---------------------------------------------------------------------- HTTPGET


async def module_get(
    modem: ModuleFilesModem,
    url: str,
    *,
    md5: str | None = None,
    unzip: bool = True,
    tls: TLSConfig | None = None,
    timeout: float = 300.0,
    unzip_grace: float = 2.0,
) -> ModuleGetResult:
    """Have the module download ``url`` into its file system (``AT+HTTPGET``/``AT+HTTPSGET``).

    ``md5`` (32 hex digits) asks the module to check the file. Only type 0 exists (the module
    unpacks a zip archive; ``unzip=False``, type 1, is unsupported by the module and refused).
    The call returns once the sequence is complete: after 11
    (failed), after the MD5 report (30/31) when ``md5`` is given, after the unzip report
    (20/21), or, with neither, ``unzip_grace`` seconds after 10 when no unzip report follows
    (a URL ending in ``.zip`` waits for it up to ``timeout``).

    Raises :class:`~n58aio.transfer.ModuleTransferError` (``states``, ``http_status``) for
    11, 21 and 31, :class:`~n58aio.transfer.PDPNotActiveError` without a data link, and
    :class:`~n58aio.errors.RequestTimeout` when the reports do not complete within ``timeout``
    (the module's ``AT+HTTPGETSTAT?`` is asked first, in case a report was lost).
    """
    target = _module_url(url)
    family = target.family
    if not unzip:
        raise InvalidValue(
            "AT+HTTPGET type 1 (no unzip) is unsupported by the module (manual 9.6); "
            "use unzip=True: only a zip archive is unpacked"
        )
    command = family.get(md5, unzip=unzip)
    tls_config = _tls_config(modem, target, tls)
    if timeout <= 0 or unzip_grace < 0:
        raise InvalidValue("timeout must be > 0 and unzip_grace >= 0")
    expect_unzip = unzip and target.target.split("?", 1)[0].lower().endswith(".zip")
    log = modem.log.bind(url=target.redacted())
    async with modem.http.exclusive():
        if tls_config is not None:
            await modem.http.apply_tls(tls_config)
        await _set_target(modem, target)
        reports = modem.urcs("")
        try:
            try:
                await modem.command(command)
            except CommandError as exc:
                raise await _refused(modem, exc) from exc
            log.info("module_get.started", md5=md5 is not None, unzip=unzip)
            states, http_status = await _get_reports(
                modem,
                reports,
                family,
                md5=md5 is not None,
                unzip=unzip,
                expect_unzip=expect_unzip,
                timeout=timeout,
                grace=unzip_grace,
            )
        finally:
            reports.close()
    result = ModuleGetResult(
        states=tuple(states),
        http_status=http_status,
        downloaded=any(state in (10, 20, 21, 30, 31) for state in states),
        unzipped=20 in states,
        verified=30 in states,
    )
    log.info("module_get.done", states=result.states, http_status=http_status)
    for failed in (11, 21, 31):
        if failed in states:
            detail = GET_STATES[failed]
            if http_status is not None and failed == 11:
                detail += f" (HTTP {http_status})"
            raise ModuleTransferError(
                f"module download of {target.redacted()}: {detail}",
                states=result.states,
                http_status=http_status,
            )
    return result


async def _get_reports(
    modem: ModuleFilesModem,
    reports: UrcSubscription,
    family: CommandFamily,
    *,
    md5: bool,
    unzip: bool,
    expect_unzip: bool,
    timeout: float,
    grace: float,
) -> tuple[list[int], int | None]:
    """Collect ``+HTTPGETRPT`` states until the sequence is complete."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settle: float | None = None  # end of the wait for an unzip report that may not come
    states: list[int] = []
    http_status: int | None = None

    def complete(state: int) -> bool:
        if state == 11 or (state in (30, 31)):
            return True
        if md5:
            return False
        return state in (20, 21) or (state == 10 and not unzip)

    while True:
        try:
            async with asyncio.timeout_at(settle if settle is not None else deadline):
                line = await anext(reports)
        except TimeoutError:
            if settle is not None:
                return states, http_status  # downloaded, and nothing to unzip
            status = await module_get_status(modem, https=family is HTTPS)
            if status.state in (0, *states[-1:]) or not complete(status.state):
                raise RequestTimeout("module download report", timeout) from None
            states.append(status.state)
            if status.code is not None:
                http_status = status.code
            return states, http_status
        if line.startswith(_RESTART_REPORTS):
            raise ModuleTransferError(
                f"the module restarted or lost its data link during the download ({line})",
                states=tuple(states),
            )
        match = _GET_REPORT.match(line)
        if match is None or match.group(1).upper() != family.prefix:
            continue
        state = int(match.group(2))
        states.append(state)
        if match.group(3) is not None:
            http_status = int(match.group(3))
        if complete(state):
            return states, http_status
        if state == 10 and not md5 and not expect_unzip:
            settle = min(loop.time() + grace, deadline)


async def module_get_status(modem: ModuleFilesModem, https: bool = False) -> ModuleGetStatus:
    """``AT+HTTPGETSTAT?`` (``AT+HTTPSGETSTAT?`` with ``https``): the last module download's
    state. Does not wait for a running :func:`module_get`."""
    family = HTTPS if https else HTTP
    reply = await modem.command(family.getstat())
    for line in reply.lines:
        match = _GET_STAT.match(line)
        if match is not None:
            code = match.group(3)
            return ModuleGetStatus(int(match.group(2)), int(code) if code is not None else None)
    raise ProtocolError(f"{family.getstat()} gave no +{family.prefix}GETSTAT line: {reply.lines}")


# ---------------------------------------------------------------------- FILEHTTPACTION


async def file_download(
    modem: ModuleFilesModem,
    url: str,
    offset: int,
    size: int,
    *,
    tls: TLSConfig | None = None,
    connect: bool = True,
    timeout: float = 120.0,
) -> FileTransferResult:
    """GET ``size`` bytes of ``url`` from ``offset`` into the module's file system
    (``AT+FILEHTTPACTION=0,<offset>,<size>``, ``AT+FILEHTTPSACTION`` for https).

    ``size`` is 1 to 524288. With ``connect`` (the default) the link is set up first with
    ``AT+HTTPSETUP``, as the manual asks, and closed afterwards. Raises
    :class:`~n58aio.transfer.PDPNotActiveError` without a data link (``+CME ERROR: 1001``),
    :class:`~n58aio.transfer.ModuleTransferError` when the module refuses the command or
    reports a failure (``+FILEHTTPSTAT: 0,0``), :class:`~n58aio.errors.RequestTimeout` when no
    report comes within ``timeout``.
    """
    target = _module_url(url)
    action = target.family.file_action_get(offset, size)
    tls_config = _tls_config(modem, target, tls)
    return await _file_action(modem, target, action, 0, tls_config, connect, timeout)


async def file_upload(
    modem: ModuleFilesModem,
    url: str,
    filename: str,
    length: int,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    tls: TLSConfig | None = None,
    connect: bool = True,
    timeout: float = 120.0,
) -> FileTransferResult:
    """POST the first ``length`` bytes of the module file ``filename`` to ``url``
    (``AT+FILEHTTPACTION=1,<length>,<type>,<filename>``).

    ``content_type`` is one the module can declare (form, text/plain, JSON, XML, HTML).
    ``length`` is 1 to 524288 (the manual's v2.0 says 2048 for some firmware). Errors as
    :func:`file_download`.
    """
    target = _module_url(url)
    _check_module_filename(filename)
    post_type = POST_TYPES.get(content_type.split(";", 1)[0].strip().lower())
    if post_type is None:
        known = ", ".join(sorted(POST_TYPES))
        raise InvalidValue(f"the module cannot POST {content_type!r}; use one of {known}")
    if not 1 <= length <= MAX_FILE_TRANSFER:
        raise InvalidValue(f"file POST takes 1 to {MAX_FILE_TRANSFER} bytes, not {length}")
    action = target.family.file_action_post(length, post_type, filename)
    tls_config = _tls_config(modem, target, tls)
    return await _file_action(modem, target, action, 1, tls_config, connect, timeout)


async def _file_action(
    modem: ModuleFilesModem,
    target: ModuleURL,
    action: str,
    mode: Literal[0, 1],
    tls: TLSConfig | None,
    connect: bool,
    timeout: float,
) -> FileTransferResult:
    family = target.family
    log = modem.log.bind(url=target.redacted(), mode=mode)
    async with modem.http.exclusive():
        if tls is not None:
            await modem.http.apply_tls(tls)
        await _set_target(modem, target)
        opened = False
        try:
            if connect:
                setup_timeout = modem.http.timeouts.connect + modem.channel.timeout_slack
                try:
                    await modem.command(family.setup(), timeout=setup_timeout)
                except CommandError as exc:
                    raise await _refused(modem, exc) from exc
                opened = True
            reports = modem.urcs("")
            try:
                try:
                    await modem.command(action)
                except CommandError as exc:
                    raise await _refused(modem, exc) from exc
                log.info("file_transfer.started")
                line, fields = await _file_report(reports, mode, timeout)
            finally:
                reports.close()
        finally:
            if opened:
                try:
                    await modem.command(family.close())
                except N58Error as exc:
                    log.warning("file_transfer.close_failed", error=str(exc))
    report_mode, stat, value, errcode = fields
    log.info("file_transfer.done", report=line)
    if stat != 1:
        http_status = value if value is not None and 100 <= value <= 599 else None
        detail = f"HTTP {http_status}" if http_status is not None else line
        raise ModuleTransferError(
            f"module file {'POST' if mode else 'GET'} with {target.redacted()} failed ({detail})",
            http_status=http_status,
            cme_code=errcode,
        )
    if report_mode is not None:
        mode = report_mode
    return FileTransferResult(mode=mode, length=value, report=line)


async def _file_report(
    reports: UrcSubscription, mode: int, timeout: float
) -> tuple[str, tuple[Literal[0, 1] | None, int, int | None, int | None]]:
    """Wait for our ``+FILEHTTPSTAT``; return it with (mode, stat, length/status, errcode)."""
    try:
        async with asyncio.timeout(timeout):
            async for line in reports:
                if line.startswith(_RESTART_REPORTS):
                    raise ModuleTransferError(
                        f"the module restarted or lost its data link during the transfer ({line})"
                    )
                fields = _parse_file_stat(line)
                if fields is not None and fields[0] in (None, mode):
                    return line, fields
    except TimeoutError:
        raise RequestTimeout("module file transfer report", timeout) from None
    raise ProtocolError("report stream ended")  # pragma: no cover - iteration only ends on close


def _parse_file_stat(line: str) -> tuple[Literal[0, 1] | None, int, int | None, int | None] | None:
    """``+FILEHTTPSTAT: <mode>,<stat>[,<length>]`` or ``+FILEHTTPSTAT: <stat>,<errcode>``."""
    match = _FILE_STAT.match(line)
    if match is None:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    third = int(match.group(3)) if match.group(3) is not None else None
    if third is None and second not in (0, 1):
        return None, first, None, second  # <stat>,<errcode>
    if first not in (0, 1):
        return None
    mode: Literal[0, 1] = 0 if first == 0 else 1
    return mode, second, third, None


# ---------------------------------------------------------------------- shared


def _module_url(url: str) -> ModuleURL:
    target = ModuleURL.parse(url)
    if target.authorization is not None:
        raise InvalidValue(
            "module-side transfers cannot send credentials (the module writes the request)"
        )
    return target


def _tls_config(
    modem: ModuleFilesModem, target: ModuleURL, tls: TLSConfig | None
) -> TLSConfig | None:
    """The TLS settings an https URL needs, validated before anything is written."""
    if target.family.source != "HTTPS":
        return None
    config = tls or modem.http.tls
    if config is None:
        raise TLSConfigError(
            "HTTPS needs a TLSConfig: TLSConfig(ca_cert='ca.pem') to verify the server, "
            "or TLSConfig.insecure() to skip verification"
        )
    config.commands()
    return config


def _check_module_filename(name: str) -> None:
    bare_parameter(name, "module file name", max_length=255)


async def _set_target(modem: ModuleFilesModem, target: ModuleURL) -> None:
    family = target.family
    await modem.command(family.para("url", target.module_url))
    await modem.command(family.para("port", target.port))


async def _refused(modem: ModuleFilesModem, exc: CommandError) -> ModuleTransferError:
    """The error to raise for a refused command, telling a missing data link apart."""
    code = exc.code
    if code in _PDP_CODES or "PDP" in exc.text.upper():
        return PDPNotActiveError(
            f"{exc.command} refused: PDP not active (no data link); "
            "call await modem.attach() first",
            cme_code=_PDP_NOT_ACTIVE,
        )
    if code is None:
        try:
            status = await modem.link_status()
        except N58Error:
            status = None
        if status is not None and not status.up:
            return PDPNotActiveError(
                f"{exc.command} refused ({exc.text}): the data link is down; "
                "call await modem.attach() first"
            )
    meaning = cme_meaning(code)
    suffix = f" ({meaning})" if meaning else ""
    return ModuleTransferError(f"{exc.command} refused: {exc.text}{suffix}", cme_code=code)
