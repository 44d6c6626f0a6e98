"""HTTP and HTTPS requests through one modem: link setup, the action, the streamed answer.

One request runs at a time per modem. A request validates everything first (nothing is
written for a bad URL, header or body), then sets the link up (``AT+HTTPPARA`` /
``AT+HTTPSETUP``, with ``AT+HTTPSCFG`` for HTTPS), opens the payload stream, sends
``AT+HTTPACTION`` and waits for the response head. When the caller is done, the link is left
open for the next request only if keep-alive was asked for and the response allows it;
otherwise, and always after an error or a cancellation, it is closed with ``AT+HTTPCLOSE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Unpack

import anyio
import h11

from ..channel import ModemChannel, PayloadStream
from ..commands.http import HTTP, HTTPS, CommandFamily
from ..commands.link import LinkStatus, parse_xiic
from ..commands.timeouts import manual_timeout
from ..errors import (
    CommandError,
    CommandTimeout,
    ConnectError,
    ConnectTimeout,
    LinkClosedError,
    N58Error,
    PoolTimeout,
    PortClosedError,
    ProtocolError,
    ReadTimeout,
    RequestTimeout,
    TLSConfigError,
    TLSError,
    TLSNotConfigured,
    TooManyRedirects,
    WriteTimeout,
)
from ..wire import Source
from .decoder import EndOfBody, HttpResponseDecoder, ResponseItem
from .headers import Headers
from .options import DEFAULT_MAX_REDIRECTS, RecvMode, RequestOptions, check_request_options
from .redirects import redirect_request
from .request import RequestPlan, plan_request
from .response import Response
from .timeouts import Timeouts, TimeoutTypes
from .tls import TLSConfig
from .url import ModuleURL

__all__ = ["HttpClient", "RecvMode", "Timeouts"]

_TLS_TYPE = re.compile(r'^AT\+HTTPSCFG="([a-z]+)"')


def _tls_type(line: str) -> str:
    """The setting an ``AT+HTTPSCFG="<type>",...`` line sets."""
    match = _TLS_TYPE.match(line)
    return match.group(1) if match else line


@dataclass(slots=True)
class _Link:
    origin: tuple[str, str, int]
    keepalive: bool
    alive: bool = True
    tls: TLSConfig | None = None


class _Exchange:
    """One request in flight."""

    def __init__(
        self,
        plan: RequestPlan,
        stream: PayloadStream[ResponseItem],
        decoder: HttpResponseDecoder,
        timeouts: Timeouts,
        close: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.plan = plan
        self.stream = stream
        self.decoder = decoder
        self.timeouts = timeouts
        self.finished = False
        self._close = close
        """Closes the link when the body ended by its framing and the server keeps the
        connection open past ``idle``: the close report then confirms the end."""

    async def receive(self, phase: str, timeout: float) -> ResponseItem:
        try:
            return await self.stream.receive(timeout)
        except TimeoutError:
            raise ReadTimeout(phase, timeout) from None
        except anyio.EndOfStream:
            raise LinkClosedError("response stream ended unexpectedly") from None

    async def head(self) -> h11.Response:
        item = await self.receive("first byte", self.timeouts.first_byte)
        if not isinstance(item, h11.Response):
            raise ProtocolError(f"expected a response head, got {item!r}")
        return item

    async def body(self) -> AsyncIterator[bytes]:
        # receive() inlined: this runs once per delivery of a download (one coroutine less)
        stream = self.stream
        idle = self.timeouts.idle
        while not self.finished:
            try:
                item = await stream.receive(idle)
            except TimeoutError:
                close, self._close = self._close, None
                if close is None or not self.decoder.awaiting_close:
                    raise ReadTimeout("idle", idle) from None
                await close()  # its link-closed report ends the stream
                continue
            except anyio.EndOfStream:
                raise LinkClosedError("response stream ended unexpectedly") from None
            if isinstance(item, bytes):
                if item:
                    yield item
            elif isinstance(item, EndOfBody):
                self.finished = True
                return
            else:
                raise ProtocolError(f"unexpected item in body: {item!r}")


class HttpClient:
    """Sends HTTP(S) requests through a :class:`~n58aio.channel.ModemChannel`.

    ``recvmode`` 1 (length-prefixed chunks) is the default; 0 (raw bytes) works too.
    ``keepalive`` keeps the link open between requests to the same origin.
    """

    def __init__(
        self,
        channel: ModemChannel,
        *,
        recvmode: RecvMode = 1,
        keepalive: bool = False,
        timeouts: TimeoutTypes = None,
        tls: TLSConfig | None = None,
        max_buffer: int = 256 * 1024,
    ) -> None:
        self.channel = channel
        self.log = channel.log
        self.recvmode: RecvMode = recvmode
        self.keepalive = keepalive
        self.timeouts = Timeouts.of(timeouts) or Timeouts()
        self.tls = tls
        self.max_buffer = max_buffer
        self.requests = 0
        self.bytes_received = 0
        self.errors = 0
        self._lock = asyncio.Lock()
        self._links: dict[Source, _Link] = {}
        self._tls_extras: set[str] = set()  # optional TLS settings sent this session
        self._cleanups: set[asyncio.Task[None]] = set()
        for family in (HTTP, HTTPS):
            for prefix in family.closed_reports():
                channel.on_urc(prefix, self._on_link_closed)
        channel.on_urc("+PBREADY", self._on_module_reset)
        channel.on_urc("GPRS DISCONNECTION", self._on_module_reset)

    # ------------------------------------------------------------------ state from reports
    def _on_link_closed(self, line: str) -> None:
        source: Source = "HTTPS" if line.startswith("+HTTPS") else "HTTP"
        link = self._links.get(source)
        if link is not None:
            link.alive = False

    def _on_module_reset(self, line: str) -> None:
        for link in self._links.values():
            link.alive = False
        if line.startswith("+PBREADY"):
            self._tls_extras.clear()  # back at the defaults

    # ------------------------------------------------------------------ data link
    async def link_status(self) -> LinkStatus:
        """``AT+XIIC?``: is the data link up, and with which address."""
        reply = await self.channel.command("AT+XIIC?")
        return parse_xiic(reply.lines)

    async def attach(self, timeout: float = 60.0, poll_interval: float = 0.5) -> LinkStatus:
        """Bring the data link up (``AT+XIIC=1``) unless it is; idempotent.

        Polls ``AT+XIIC?`` until the link is up; raises
        :class:`~n58aio.errors.RequestTimeout` when it does not come up within ``timeout``.
        """
        status = await self.link_status()
        if status.up:
            return status
        self.log.info("link.attach")
        deadline = time.monotonic() + timeout
        await self.channel.command("AT+XIIC=1")
        while True:
            status = await self.link_status()
            if status.up:
                self.log.info("link.up", address=status.address)
                return status
            if time.monotonic() >= deadline:
                raise RequestTimeout("attach", timeout)
            await asyncio.sleep(poll_interval)

    # ------------------------------------------------------------------ module-side commands
    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the request lock while sending other commands of the HTTP/HTTPS families
        (module-side downloads and file transfers): no request runs meanwhile.

        Links kept open for reuse are closed first, since such commands overwrite the
        parameters they were set up with.
        """
        async with self._lock:
            for source in list(self._links):
                try:
                    await self._close_link(HTTPS if source == "HTTPS" else HTTP, abort=False)
                except PortClosedError:
                    self._links.clear()
                    raise
                except N58Error as exc:
                    self.log.warning("http.close_failed", error=str(exc))
                    self._links.pop(source, None)
            yield

    async def apply_tls(self, tls: TLSConfig) -> None:
        """Send the ``AT+HTTPSCFG`` lines of ``tls`` (inside :meth:`exclusive`, right before a
        module-side HTTPS command; requests do this themselves before every HTTPS link).

        They are sent every time: after a restart nobody saw, the module is back at its
        defaults (no verification), so no earlier setting is taken to be still in force."""
        await self._apply_tls(tls)

    # ------------------------------------------------------------------ requests
    @asynccontextmanager
    async def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Response]:
        """Send a request and yield the :class:`Response` with its body still streaming.

        The options are those of :class:`~n58aio.http.RequestOptions`. ``offset`` and ``size``
        make a ranged GET (``AT+HTTPACTION=0,<offset>,<size>``). With ``follow_redirects``
        each redirect is read and followed, up to ``max_redirects``, as httpx does (see
        :func:`~n58aio.http.redirects.redirect_request`); the final response has them in
        ``history``. On leaving the block the link is closed, or kept for reuse when
        ``keepalive`` is on, the response allows it and its body was read to the end.
        """
        check_request_options(options)
        follow = options.get("follow_redirects", False)
        max_redirects = options.get("max_redirects", DEFAULT_MAX_REDIRECTS)
        history: list[Response] = []
        while True:
            async with self._stream_once(method, url, options) as response:
                if not (follow and response.has_redirect_location):
                    response.history = history
                    yield response
                    return
                await response.aread()
                if len(history) >= max_redirects:
                    raise TooManyRedirects(
                        f"exceeded max_redirects={max_redirects} at {response.url}"
                    )
                history.append(response)
                method, url, options = redirect_request(
                    method, url, response.status_code, response.headers["location"], options
                )

    async def request(self, method: str, url: str, **options: Unpack[RequestOptions]) -> Response:
        """Send a request and return the :class:`Response` with its body read."""
        async with self.stream(method, url, **options) as response:
            await response.aread()
        return response

    @asynccontextmanager
    async def _stream_once(
        self, method: str, url: str, options: RequestOptions
    ) -> AsyncIterator[Response]:
        started = time.monotonic()
        target = ModuleURL.parse(url)
        recvmode = options.get("recvmode")
        raw = (self.recvmode if recvmode is None else recvmode) == 0
        # In receive mode 0 a kept link would let its server write unframed bytes at any time
        # later, readable as the module's output: such links are always closed.
        keepalive = options.get("keepalive")
        keep = (self.keepalive if keepalive is None else keepalive) and not raw
        plan = plan_request(
            method,
            target,
            headers=options.get("headers"),
            content=options.get("content"),
            data=options.get("data"),
            json=options.get("json"),
            offset=options.get("offset"),
            size=options.get("size"),
            keepalive=keep,
            compress=options.get("compress", True),
        )
        tls_config = self._tls_for(target, options.get("tls"))
        limits = Timeouts.of(options.get("timeouts")) or self.timeouts
        await self._acquire(limits)
        exchange: _Exchange | None = None
        response: Response | None = None
        try:
            exchange = await self._start_named(plan, tls_config, raw, limits)
            head = await exchange.head()
            response = Response(
                status_code=head.status_code,
                reason=head.reason.decode("latin-1"),
                http_version="HTTP/" + head.http_version.decode("ascii"),
                headers=Headers.from_bytes(head.headers),
                url=target.redacted(),
                method=plan.method,
                body=exchange.body,
                closer=self._noop,
                started=started,
            )
            self.log.info(
                "http.response",
                method=plan.method,
                url=target.redacted(),
                status=response.status_code,
                mode=plan.mode,
            )
            yield response
        except N58Error:
            self.errors += 1
            raise
        finally:
            if response is not None:
                response._mark_finished()
            cleanup = asyncio.ensure_future(self._finish(plan, exchange, limits, raw))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
            await asyncio.shield(cleanup)

    async def _acquire(self, timeouts: Timeouts) -> None:
        """Take the request lock within the ``pool`` timeout."""
        if timeouts.pool is None:
            await self._lock.acquire()
            return
        try:
            async with asyncio.timeout(timeouts.pool):
                await self._lock.acquire()
        except TimeoutError:
            raise PoolTimeout("pool", timeouts.pool) from None

    async def _start_named(
        self, plan: RequestPlan, tls: TLSConfig | None, raw: bool, timeouts: Timeouts
    ) -> _Exchange:
        """:meth:`_start`, with a failed or timed-out link setup or action raised as the
        connect or write error that names the host, the port and what the module said."""
        family = plan.url.family
        url = plan.url
        try:
            return await self._start(plan, tls, raw, timeouts)
        except CommandTimeout as exc:
            if exc.command == family.setup():
                raise ConnectTimeout("connect", timeouts.connect, exc.command) from exc
            if exc.command == plan.action:
                raise WriteTimeout("write", timeouts.write, exc.command) from exc
            raise
        except CommandError as exc:
            if exc.command not in (family.setup(), plan.action) or isinstance(exc, ConnectError):
                raise
            if exc.command == plan.action and "FAILED" not in exc.text.upper():
                raise
            detail = ""
            if exc.command == plan.action:
                detail = "no link: is the data link up? (modem.attach())"
            error: type[ConnectError] = ConnectError
            if tls is not None and exc.command == family.setup():
                error = TLSError
                detail = tls.failure_hint()
            if exc.command == family.setup() and not await self._link_up():
                error = ConnectError  # not the certificate: there is no data link at all
                detail = "the data link is down: call modem.attach() first"
            raise error(url.host, url.port, exc.command, exc.text, exc.code, detail=detail) from exc

    async def _link_up(self) -> bool:
        """After a refused link setup: is the data link up (True when the module does not
        say)? A setup without a data link is the first failure of a program that forgot
        ``attach()``; its error says so rather than blaming the server."""
        try:
            return (await self.link_status()).up
        except N58Error:
            return True

    @staticmethod
    async def _noop() -> None:
        return None

    def _tls_for(self, url: ModuleURL, tls: TLSConfig | None) -> TLSConfig | None:
        if url.family.source != "HTTPS":
            return None
        config = tls or self.tls
        if config is None:
            raise TLSNotConfigured()
        config.commands()  # validate now, before anything is written
        return config

    async def _start(
        self, plan: RequestPlan, tls: TLSConfig | None, raw: bool, timeouts: Timeouts
    ) -> _Exchange:
        family = plan.url.family
        reused = await self._prepare(plan, tls, raw, timeouts)
        decoder = HttpResponseDecoder(plan.connection, raw=raw, until_close=not plan.keepalive)
        stream = self.channel.open_stream(family.source, decoder, max_buffer=self.max_buffer)
        action = plan.action
        self.requests += 1
        self.log.info("http.request", method=plan.method, url=plan.url.redacted(), mode=plan.mode)
        # the manual's 30 s for the module to take the request, or the caller's write timeout
        manual = manual_timeout(action)
        action_timeout = (
            self.channel.default_timeout(action, plan.body) - manual + min(manual, timeouts.write)
        )
        try:
            await self.channel.command(action, data=plan.body, timeout=action_timeout)
        except CommandError as exc:
            self.channel.close_stream(stream)
            if not (reused and "FAILED" in exc.text.upper()):
                raise
            # The kept link had gone away unnoticed: set up a fresh one, once.
            self.log.info("http.link_lost", url=plan.url.redacted())
            self._links.pop(family.source, None)
            await self._prepare(plan, tls, raw, timeouts)
            stream = self.channel.open_stream(family.source, decoder, max_buffer=self.max_buffer)
            try:
                await self.channel.command(action, data=plan.body, timeout=action_timeout)
            except N58Error:
                self.channel.close_stream(stream)
                raise
        except BaseException:
            self.channel.close_stream(stream)
            raise
        close = None
        if decoder.until_close and not raw:
            # Receive mode 1 on a link that closes: the body ends on the link-closed report
            # (see HttpResponseDecoder); a server that keeps its connection open after the
            # response gets it closed by the host.
            def close() -> Awaitable[object]:
                return self.channel.command(family.close(), timeout=timeouts.idle)

        return _Exchange(plan, stream, decoder, timeouts, close)

    async def _prepare(
        self, plan: RequestPlan, tls: TLSConfig | None, raw: bool, timeouts: Timeouts
    ) -> bool:
        """Make the link ready; return True when a kept-alive link is reused."""
        family = plan.url.family
        command = self.channel.command
        link = self._links.get(family.source)
        if (
            link is not None
            and link.alive
            and link.keepalive
            and plan.keepalive
            and link.origin == plan.url.origin
            and link.tls == tls
        ):
            # A link the module still holds was set up with these TLS settings; if the module
            # restarted meanwhile the link is gone and the action fails (then a new one is set up).
            await command(family.para("url", plan.url.module_url))
            return True
        if link is not None:
            await self._close_link(family, abort=False)
        self._links[family.source] = _Link(plan.url.origin, plan.keepalive, alive=False, tls=tls)
        await command(family.para("url", plan.url.module_url))
        await command(family.para("port", plan.url.port))
        await command(family.para("keepalive", 1 if plan.keepalive else 0))
        await command(family.para("recvmode", 0 if raw else 1))
        if tls is not None:
            # Right before the setup, after the parameters: a module that restarts after this
            # has lost the url as well, and its setup fails instead of connecting unverified.
            await self._apply_tls(tls)
        await command(family.setup(), timeout=timeouts.connect + self.channel.timeout_slack)
        self._links[family.source].alive = True
        return False

    async def _apply_tls(self, tls: TLSConfig) -> None:
        if not tls.verify:
            self.log.warning("tls.verification_disabled")
        lines = tls.commands()
        try:
            for line in lines:
                await self.channel.command(line)
        except CommandError as exc:
            raise TLSConfigError(f"the module refused a TLS setting: {exc}") from exc
        # Settings an earlier configuration of this session set and this one leaves alone
        # (a cipher suite, sni, client files) are put back to their defaults. Nothing of
        # what verification depends on is among them: sslversion, authmode and cacert are
        # sent every time above. An ERROR means the firmware has no such setting.
        given = {_tls_type(line) for line in lines}
        for line in tls.reset_commands():
            kind = _tls_type(line)
            if kind in self._tls_extras and kind not in given:
                with contextlib.suppress(CommandError):
                    await self.channel.command(line)
        self._tls_extras = given - {"sslversion", "authmode", "cacert"}

    async def _finish(
        self, plan: RequestPlan, exchange: _Exchange | None, timeouts: Timeouts, raw: bool
    ) -> None:
        family = plan.url.family
        try:
            if exchange is not None:
                self.bytes_received += exchange.stream.bytes_received
                keep = exchange.finished and plan.keepalive and exchange.decoder.reusable
                link = self._links.get(family.source)
                if keep and link is not None and link.alive:
                    return
                if not exchange.stream.finished:
                    self.channel.close_stream(exchange.stream)
                if exchange.decoder.raw:
                    # Receive mode 0: the server's bytes have no framing. The channel closes the
                    # link blind and proves itself in step with a probe before it trusts the line
                    # (it did so already if the response ended; an abandoned one ends here).
                    self._links.pop(family.source, None)
                    if not exchange.decoder.complete:
                        self.channel.distrust(
                            "receive-mode-0 response abandoned", before_probe=(family.close(),)
                        )
                    return
                await self._close_link(family, abort=not exchange.finished, wait=timeouts.idle)
            elif family.source in self._links:
                if raw:
                    # The action may have gone through unseen: raw bytes may be on their way.
                    self._links.pop(family.source, None)
                    self.channel.distrust(
                        "receive-mode-0 request failed", before_probe=(family.close(),)
                    )
                else:
                    await self._close_link(family, abort=True, wait=timeouts.idle)
        except PortClosedError:
            self._links.clear()
        except N58Error as exc:
            self.log.warning("http.close_failed", error=str(exc))
            self._links.pop(family.source, None)
        finally:
            self._lock.release()

    async def _close_link(self, family: CommandFamily, *, abort: bool, wait: float = 10.0) -> None:
        link = self._links.pop(family.source, None)
        if (
            link is not None
            and not link.alive
            and not abort
            and not self.channel.parser.in_raw_mode
        ):
            return  # the server closed it and the module said so: nothing to close
        # After an abort the module may hold the answer until it has handled the data it is
        # receiving: up to 10 s (or the request's idle timeout when shorter), plus the time
        # the server data it may hold takes on the line.
        channel = self.channel
        timeout = None
        if abort:
            timeout = min(10.0, wait) + channel.timeout_slack
            timeout += channel.line_time(channel.module_buffer)
        await channel.command(family.close(), timeout=timeout)
