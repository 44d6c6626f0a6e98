"""The public :class:`Modem` object and :func:`open_modem`."""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, Unpack

import structlog

from .bringup import BringUp, ModemStatus, OnStep, read_status
from .channel import ModemChannel, Reply, UrcCallback, UrcSubscription, open_port
from .cmux.mux import DEFAULT_N1, Multiplexer
from .commands.link import LinkStatus
from .errors import (
    CommandError,
    CommandTimeout,
    ModemNotAnswering,
    PortClosedError,
    PortOpenError,
)
from .http import (
    HttpClient,
    RecvMode,
    RequestOptions,
    Response,
    TimeoutTypes,
    TLSConfig,
)
from .linespeed import initial_rate_for, switch_line_rate
from .logs import get_logger
from .redact import redact
from .retry import RetryPolicy
from .supervised import supervised_call, supervised_request, supervised_stream
from .supervision import RECOVERY_TIMEOUT, EventKind, EventStream, SupervisionEvent, Supervisor
from .transfer import module_files as _module_files
from .transfer.download import DownloadResult
from .transfer.download import download as _download
from .transfer.errors import ModuleTransferError, PDPNotActiveError
from .transfer.files import ModuleFiles
from .transfer.module_files import FileTransferResult, ModuleGetResult, ModuleGetStatus
from .transfer.options import DownloadOptions

__all__ = ["Modem", "open_modem"]

_T = TypeVar("_T")

_counter = itertools.count(1)


class Modem:
    """One N58 modem behind a serial port.

    Get one from :func:`open_modem`. Commands are queued and sent one at a time; reports are
    delivered to :meth:`on_urc` callbacks and :meth:`urcs` iterators.
    """

    def __init__(
        self,
        channel: ModemChannel,
        *,
        url: str,
        recvmode: RecvMode = 1,
        keepalive: bool = False,
        timeouts: TimeoutTypes = None,
        tls: TLSConfig | None = None,
        line_rate: int | None = None,
        initial_rate: int | None = None,
        http_channel: ModemChannel | None = None,
        mux: Multiplexer | None = None,
    ) -> None:
        self.channel = channel
        self.http_channel = http_channel or channel
        """The channel of HTTP requests and their payload streams: with the multiplexer a DLC
        of its own, so that :attr:`channel` (commands, status, reports) never waits behind a
        stream."""
        self.mux = mux
        """The 27.010 multiplexer (``open_modem(mux=True)``), None on a single channel."""
        self.url = url
        self.name = channel.name
        self.log = channel.log
        self.http = HttpClient(
            self.http_channel, recvmode=recvmode, keepalive=keepalive, timeouts=timeouts, tls=tls
        )
        self._files: ModuleFiles | None = None
        self._opened_at = time.monotonic()
        rate = channel.baudrate or 115200
        self.supervisor = Supervisor(
            channel,
            channel.log,
            line_rate=line_rate or rate,
            initial_rate=initial_rate or rate,
            port=url,
        )
        """Watches the module and brings it back up (see :mod:`n58aio.supervision`)."""
        self.retry = RetryPolicy()
        """The default :class:`~n58aio.RetryPolicy` of requests (a request's ``retry=``
        overrides it): an idempotent request is sent again once after a recovery."""

    @property
    def _bringup(self) -> BringUp | None:
        """The parameters of the last :meth:`attach` (re-used by the supervision)."""
        return self.supervisor.params

    @property
    def files(self) -> ModuleFiles:
        """The module's own file system: write, read, list, delete files; install TLS
        certificates; module-side transfers from and to local files."""
        if self._files is None:
            self._files = ModuleFiles(self)
        return self._files

    # ------------------------------------------------------------------ HTTP
    async def attach(
        self,
        timeout: float = 60.0,
        *,
        apn: str | None = None,
        user: str | None = None,
        password: str | None = None,
        pin: str | None = None,
        on_step: OnStep | None = None,
    ) -> LinkStatus:
        """Bring the module up: wait for it, unlock the SIM with ``pin`` when it asks, wait for
        the network registration, set ``apn`` (and ``user`` / ``password``), bring the data link
        up; each step only when needed (idempotent). Each failure raises its own
        :class:`~n58aio.errors.BringUpError`; a wrong PIN is never retried.

        Called without parameters after an attach with some, it re-uses them. From then on the
        module is supervised: restarts, a lost data link or registration are detected, and the
        bring-up and the line rate are re-applied (see :meth:`recover`, :meth:`events`).
        ``on_step(step, detail)`` is told each step done, the line speed last (see
        :data:`~n58aio.bringup.OnStep`). On a port where nothing ever answered it raises
        :class:`~n58aio.errors.ModemNotAnswering` when ``timeout`` is over."""
        params = BringUp(apn=apn, user=user, password=password, pin=pin)
        last = self.supervisor.params
        if last is not None and params == BringUp():
            params = last
        try:
            return await self.supervisor.attach(params, timeout, on_step)
        except CommandTimeout as exc:
            raise self._first_contact(exc) from exc

    async def recover(self, timeout: float = 60.0) -> LinkStatus:
        """Find the module (at the line rate in use, then the initial one; reset with
        ``AT+CFUN=1,1`` when it answers neither), tell from its state whether it restarted or
        lost its data link or registration, and bring it up again with the last
        :meth:`attach` parameters and line rate. Cheap when all is well; downloads and pools
        call it after a failure. Raises a :class:`~n58aio.errors.BringUpError` (such as
        :class:`~n58aio.errors.ModemUnresponsiveError`) when it cannot."""
        return await self.supervisor.recover(timeout)

    def events(self, maxlen: int = 256) -> EventStream:
        """Async iterator over :class:`~n58aio.SupervisionEvent` (restarts, link and
        registration losses, resets, recoveries) from now on; close it to unsubscribe."""
        return self.supervisor.events(maxlen)

    def on_event(self, callback: Callable[[SupervisionEvent], object]) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`~n58aio.SupervisionEvent`; returns a
        function that unsubscribes."""
        return self.supervisor.on_event(callback)

    @property
    def supervision_counts(self) -> dict[EventKind, int]:
        """How often each supervision event happened."""
        return dict(self.supervisor.counts)

    @property
    def line_rate(self) -> int | None:
        """The host port's rate now."""
        return self.channel.baudrate

    async def status(self) -> ModemStatus:
        """One snapshot: signal, registration, operator, IMEI, IMSI, ICCID, firmware, data
        link (the commands interleave with a download that streams meanwhile)."""
        return await read_status(self.channel)

    async def link_status(self) -> LinkStatus:
        """Query the data link (``AT+XIIC?``)."""
        return await self.http.link_status()

    def configure_tls(self, tls: TLSConfig) -> None:
        """Set the TLS configuration used by HTTPS requests that do not pass their own."""
        self.http.tls = tls

    def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AbstractAsyncContextManager[Response]:
        """Send a request; ``async with`` gives the :class:`~n58aio.http.Response` while its
        body streams (``async for chunk in response.aiter_bytes()``).

        The options are :class:`~n58aio.http.RequestOptions`: ``headers``, a body
        (``content``, ``data`` or ``json``), ``offset``/``size`` for a ranged GET, ``tls``,
        ``keepalive`` and ``recvmode`` (overriding the modem's defaults), ``timeouts``
        (a :class:`~n58aio.Timeouts` or seconds), ``follow_redirects`` and ``max_redirects``,
        ``retry`` (a :class:`~n58aio.RetryPolicy`; a stream is sent again only before its
        response is handed out).
        """
        return supervised_stream(self.supervisor, self.http, self.retry, method, url, options)

    async def request(self, method: str, url: str, **options: Unpack[RequestOptions]) -> Response:
        """Send a request and return the :class:`~n58aio.http.Response` with its body read;
        takes the same options as :meth:`stream`.

        Once attached, a request waits for a recovery in progress, and one that fails because
        of the module (a restart, a lost link, a wedge) has the module recovered; it is then
        sent again when ``retry`` (the modem's :attr:`retry` by default) allows: GET, HEAD and
        OPTIONS once, a POST never (see docs/reliability.md). ``response.attempts`` counts."""
        return await supervised_request(
            self.supervisor, self.http, self.retry, method, url, options
        )

    async def get(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("GET", url, ...)``."""
        return await self.request("GET", url, **options)

    async def head(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("HEAD", url, ...)``."""
        return await self.request("HEAD", url, **options)

    async def post(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("POST", url, ...)``."""
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("PUT", url, ...)``."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("PATCH", url, ...)``."""
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("DELETE", url, ...)``."""
        return await self.request("DELETE", url, **options)

    async def options(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("OPTIONS", url, ...)``."""
        return await self.request("OPTIONS", url, **options)

    # ------------------------------------------------------------------ transfers
    async def download(
        self, url: str, path: str | os.PathLike[str], **options: Unpack[DownloadOptions]
    ) -> DownloadResult:
        """Download ``url`` to the local file ``path`` as verified ranged GETs, surviving
        faults and resuming an interrupted download; the options are
        :class:`~n58aio.transfer.DownloadOptions` (``sha256``, ``md5``, ``range_size``,
        ``progress``, ``retries``, ``backoff``, ``tls``, ``timeouts``); see
        :func:`n58aio.transfer.download`."""
        return await _download(self, url, path, **options)

    async def module_get(
        self,
        url: str,
        *,
        md5: str | None = None,
        unzip: bool = True,
        tls: TLSConfig | None = None,
        timeout: float = 300.0,
        unzip_grace: float = 2.0,
        retry: RetryPolicy | None = None,
    ) -> ModuleGetResult:
        """Have the module download ``url`` into its own file system (``AT+HTTPGET``) and
        wait for its reports; see :func:`n58aio.transfer.module_get`. Supervised like a GET
        (``retry``: the modem's :attr:`retry` by default)."""
        return await self._module_transfer(
            "GET",
            url,
            retry,
            lambda: _module_files.module_get(
                self, url, md5=md5, unzip=unzip, tls=tls, timeout=timeout, unzip_grace=unzip_grace
            ),
        )

    async def _module_transfer(
        self,
        method: str,
        url: str,
        retry: RetryPolicy | None,
        operation: Callable[[], Awaitable[_T]],
    ) -> _T:
        """A module-side transfer under the supervision (see :func:`supervised_call`)."""
        return await supervised_call(
            self.supervisor,
            retry or self.retry,
            method,
            url,
            operation,
            self.log,
            failures=(ModuleTransferError,),
            suspects=(PDPNotActiveError,),
        )

    async def module_get_status(self, https: bool = False) -> ModuleGetStatus:
        """``AT+HTTPGETSTAT?`` / ``AT+HTTPSGETSTAT?``: state of the last module download."""
        return await _module_files.module_get_status(self, https=https)

    async def file_download(
        self,
        url: str,
        offset: int,
        size: int,
        *,
        tls: TLSConfig | None = None,
        connect: bool = True,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> FileTransferResult:
        """GET a range of ``url`` into the module's file system (``AT+FILEHTTPACTION=0``);
        see :func:`n58aio.transfer.file_download`. Supervised like a GET: sent again once
        after a recovery (``retry``: the modem's :attr:`retry` by default)."""
        return await self._module_transfer(
            "GET",
            url,
            retry,
            lambda: _module_files.file_download(
                self, url, offset, size, tls=tls, connect=connect, timeout=timeout
            ),
        )

    async def file_upload(
        self,
        url: str,
        filename: str,
        length: int,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        tls: TLSConfig | None = None,
        connect: bool = True,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> FileTransferResult:
        """POST a file of the module's file system to ``url`` (``AT+FILEHTTPACTION=1``);
        see :func:`n58aio.transfer.file_upload`. Supervised like a POST: never sent again
        unless ``retry`` names POST."""
        return await self._module_transfer(
            "POST",
            url,
            retry,
            lambda: _module_files.file_upload(
                self,
                url,
                filename,
                length,
                content_type=content_type,
                tls=tls,
                connect=connect,
                timeout=timeout,
            ),
        )

    # ------------------------------------------------------------------ AT

    async def command(
        self,
        command: str,
        timeout: float | None = None,
        *,
        data: bytes | None = None,
        reply_prefix: str | None = None,
        reply_match: Callable[[str], bool] | None = None,
        max_reply_lines: int | None = None,
    ) -> Reply:
        """Send one AT command and return its :class:`~n58aio.channel.Reply`.

        ``timeout`` defaults to the manual's value for the command. Raises
        :class:`~n58aio.errors.CommandError` (``code`` holds the CME code),
        :class:`~n58aio.errors.CommandTimeout` (:class:`~n58aio.errors.ModemNotAnswering`
        when nothing on the port has ever answered) or :class:`~n58aio.errors.PortClosedError`.
        Once attached, a command (and so every file operation) waits for a recovery in
        progress (within ``timeout``, else 60 s: then :class:`~n58aio.errors.CommandTimeout`),
        and a command that times out has the module checked in the background.
        """
        if not self.supervisor.settled:  # (no timer per command when nothing runs)
            wait = RECOVERY_TIMEOUT if timeout is None else timeout
            try:
                async with asyncio.timeout(wait):
                    await self.supervisor.ready()
            except TimeoutError:
                raise CommandTimeout(command, wait) from None  # a recovery still running
        try:
            return await self.channel.command(
                command,
                timeout=timeout,
                data=data,
                reply_prefix=reply_prefix,
                reply_match=reply_match,
                max_reply_lines=max_reply_lines,
            )
        except CommandTimeout as exc:
            self.supervisor.check_soon()
            raise self._first_contact(exc) from exc

    def _first_contact(self, exc: CommandTimeout) -> CommandTimeout:
        """``exc`` itself, or :class:`~n58aio.errors.ModemNotAnswering` when nothing on the port
        has answered since it was opened (not one probe): the error a wrong or silent port
        gives, naming the port, the rates tried and what came back."""
        channel = self.channel
        if isinstance(exc, ModemNotAnswering) or channel.resyncs or channel.closed:
            return exc
        rates = (self.supervisor.initial_rate, self.supervisor.line_rate, channel.baudrate)
        tried = tuple(rate for rate in dict.fromkeys(rates) if rate)
        waited = round(time.monotonic() - self._opened_at, 1)
        return ModemNotAnswering(self.url, tried, channel.bytes_read, exc.command, waited)

    def on_urc(self, prefix: str, callback: UrcCallback) -> Callable[[], None]:
        """Call ``callback(line)`` for every report starting with ``prefix`` (empty: all).

        Returns a function that unsubscribes. Coroutine functions are run as tasks.
        """
        return self.channel.on_urc(prefix, callback)

    def urcs(self, prefix: str = "", maxlen: int = 1024) -> UrcSubscription:
        """Async iterator over reports starting with ``prefix``; close it to unsubscribe."""
        return self.channel.subscribe(prefix, maxlen)

    async def resync(self) -> None:
        """Force a resynchronisation with the modem (done automatically after timeouts)."""
        await self.channel.resync()

    @property
    def closed(self) -> bool:
        """True once the port is closed or gone."""
        return self.channel.closed

    async def restore_mux(self) -> None:
        """The recovery path's hook for the multiplexer: after the module restarted (or left
        multiplexer mode), set it up again (``AT+CMUX``, SABM on every DLC). Cheap when the
        multiplexer answers; nothing without one. Raises
        :class:`~n58aio.errors.MultiplexerError` when the module does not take it."""
        if self.mux is not None:
            await self.mux.restore()

    async def aclose(self) -> None:
        """Close the port (and stop the supervision); with the multiplexer, close it down
        first (``CLD``), leaving the module in AT mode."""
        self.supervisor.close()
        if self.http_channel is not self.channel:
            self.http_channel.close()
        self.channel.close()
        if self.mux is not None:
            await self.mux.close()

    async def __aenter__(self) -> Modem:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def open_modem(
    url: str,
    *,
    name: str | None = None,
    timeout_slack: float = 0.5,
    recvmode: RecvMode = 1,
    keepalive: bool = False,
    timeouts: TimeoutTypes = None,
    tls: TLSConfig | None = None,
    logger: structlog.typing.FilteringBoundLogger | None = None,
    echoes_data: bool = True,
    baudrate: int = 115200,
    initial_baudrate: int | None = None,
    mux: bool = False,
    mux_n1: int = DEFAULT_N1,
    **serial_options: Any,
) -> AbstractAsyncContextManager[Modem]:
    """Open the modem at ``url`` (a device path or a pyserial URL such as ``socket://h:p`` or
    ``rfc2217://h:p``): ``async with open_modem(url) as modem:`` gives a :class:`Modem` and
    closes the port on exit.

    ``baudrate`` is the line rate to run at. The port opens at ``initial_baudrate`` (the
    module's boot or auto-baud rate; by default ``baudrate`` up to 115200); a higher
    ``baudrate`` (921600, 2166666) is then set with ``AT+IPR``, the port follows and a probe
    proves the line (or, if the module does not answer yet, :meth:`Modem.attach` does it).
    After a restart the supervision finds the module at the initial rate and switches again.

    ``serial_options`` go to pyserial. ``timeout_slack`` is
    added to the manual's command timeouts for serial and scheduling latency. ``recvmode``,
    ``keepalive``, ``timeouts`` and ``tls`` are the defaults of HTTP requests.
    ``echoes_data=False`` is for firmware that, with echo on, does not echo the data typed
    after the ``>`` prompt (the N58 does; see the trust model in docs/reliability.md).

    The channel starts out of step: the first command is preceded by ``ATE1`` and a probe
    (``AT+N58SYNC=<random token>``) whose echo proves the module is answering this session.
    A port that cannot be opened raises :class:`~n58aio.errors.PortOpenError`; one where
    nothing answers, :class:`~n58aio.errors.ModemNotAnswering` (from the first command, from
    :meth:`Modem.attach`, or on leaving the ``async with`` block).

    ``mux=True`` runs 3GPP TS 27.010 multiplexing (``AT+CMUX``, frames of up to ``mux_n1``
    bytes): commands, status and reports on DLC 1, HTTP requests and their streams on DLC 2,
    so that a stalled stream pauses only its DLC (see docs/multiplexing.md). A module that
    refuses ``AT+CMUX`` is used on one channel, with a warning.
    """
    label = name or f"modem{next(_counter)}"
    log = logger.bind(modem=label) if logger is not None else get_logger(modem=label)
    return _opened_modem(
        url,
        label,
        log,
        {"timeout_slack": timeout_slack, "echoes_data": echoes_data},
        {"recvmode": recvmode, "keepalive": keepalive, "timeouts": timeouts, "tls": tls},
        serial_options,
        (baudrate, initial_rate_for(baudrate, initial_baudrate)),
        mux_n1 if mux else None,
    )


@asynccontextmanager
async def _opened_modem(
    url: str,
    label: str,
    log: structlog.typing.FilteringBoundLogger,
    channel_options: dict[str, Any],
    http_options: dict[str, Any],
    serial_options: dict[str, Any],
    rates: tuple[int, int],
    mux_n1: int | None,
) -> AsyncIterator[Modem]:
    line_rate, initial = rates
    channel = ModemChannel(name=label, log=log, baudrate=initial, **channel_options)
    # with the multiplexer, it is the port's protocol, passing bytes through until AT+CMUX
    mux = None if mux_n1 is None else Multiplexer(channel, n1=mux_n1, log=log)
    try:
        transport, _ = await open_port(
            url, lambda: mux if mux is not None else channel, baudrate=initial, **serial_options
        )
    except PortOpenError:
        raise
    except PortClosedError as exc:
        raise _open_error(url, exc) from exc.__cause__
    await channel.wait_connected()
    log.info("modem.open", url=redact(url), baudrate=initial)
    modem: Modem | None = None
    try:
        if line_rate != initial:
            try:
                await switch_line_rate(channel, line_rate, log)
            except CommandTimeout:
                log.info("line.switch_deferred", baudrate=line_rate)  # attach() switches
        http_channel = None
        if mux is not None:
            http_channel = await _start_mux(mux, channel, label, log, channel_options)
        modem = Modem(
            channel,
            url=url,
            line_rate=line_rate,
            initial_rate=initial,
            http_channel=http_channel,
            mux=mux if http_channel is not None else None,
            **http_options,
        )
        yield modem
    except CommandTimeout as exc:
        if modem is None:
            raise
        # the first request or bring-up of a port where nothing ever answered
        raise modem._first_contact(exc) from exc
    finally:
        if modem is not None:
            await modem.aclose()
        else:
            channel.close()
            transport.close()


#: What to check when a port cannot be opened, by the system's error number.
_OPEN_HINTS = {
    errno.ENOENT: "no such device: check the path (ls /dev/ttyUSB* /dev/ttyACM*), the cable "
    "and that the module is powered",
    errno.EACCES: "permission denied: add your user to the port's group (often dialout: "
    "sudo usermod -aG dialout $USER, then log in again)",
    errno.EBUSY: "the port is busy: another program holds it (ModemManager, a terminal)",
    errno.ECONNREFUSED: "connection refused: nothing listens at that address and port",
    errno.ENXIO: "no such device or address: the device is gone, or not a serial port",
    errno.ENODEV: "no such device: the device is gone, or not a serial port",
    errno.ENOTTY: "not a serial port (a file or another kind of device)",
}
_OPEN_HINTS[errno.EPERM] = _OPEN_HINTS[errno.EACCES]
_ERRNO = re.compile(r"\[Errno (\d+)\]|\((\d+), '")


def _open_error(url: str, exc: PortClosedError) -> PortOpenError:
    """The port's opening failure said once, with what to check (pyserial repeats the
    system's message inside its own)."""
    cause = exc.__cause__
    number = getattr(cause, "errno", None)
    if not isinstance(number, int):
        found = _ERRNO.search(str(cause))
        number = int(found.group(1) or found.group(2)) if found else None
    if number in _OPEN_HINTS:
        return PortOpenError(url, _OPEN_HINTS[number], number)
    if number is not None:
        return PortOpenError(url, os.strerror(number), number)
    return PortOpenError(url, str(cause or exc))


async def _start_mux(
    mux: Multiplexer,
    channel: ModemChannel,
    label: str,
    log: structlog.typing.FilteringBoundLogger,
    channel_options: dict[str, Any],
) -> ModemChannel | None:
    """``AT+CMUX`` on ``channel``, which then moves to DLC 1; a new channel on DLC 2 for
    HTTP. None (one channel, AT mode) when the module refuses the command."""
    try:
        await mux.enter(channel.command)
    except CommandError as exc:
        log.warning("mux.refused", error=str(exc))
        return None
    http_channel = ModemChannel(
        name=f"{label}.http", log=log.bind(dlc=2), baudrate=channel.baudrate, **channel_options
    )
    await mux.open_dlc(1, channel, on_gap=lambda reason: channel.distrust(reason))
    await mux.open_dlc(2, http_channel, on_gap=lambda reason: http_channel.distrust(reason))
    # each DLC is a fresh interpreter (echo on): both channels prove themselves first
    await channel.resync()
    await http_channel.resync()
    return http_channel
