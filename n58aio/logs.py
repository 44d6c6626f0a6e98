"""Where n58aio's log events go: silent unless the application asks for them.

The library logs structlog events with fields (``at.send``, ``download.retry`` ...). When the
application has configured structlog (``structlog.configure``), the events follow that
configuration. Otherwise they go to the standard library loggers ``n58aio``, ``n58aio.pool``,
``n58aio.emulator`` ..., which carry a :class:`logging.NullHandler`: nothing prints until the
application adds a handler, as with httpx. One line turns them on::

    logging.basicConfig(level=logging.INFO)   # stdlib text: "INFO:n58aio:modem.open url=..."
    n58aio.enable_logging()                   # console lines with the fields, on stderr
    n58aio.enable_logging("json")             # one JSON object per line, on stderr

The choice between the two routes is made for each event, so logging can be configured at any
time, before or after the modems are opened.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from importlib.util import find_spec
from typing import IO, Any, Literal, cast

import structlog

from .errors import InvalidValue

__all__ = [
    "EVENT_ATTRIBUTE",
    "EventFormatter",
    "console_renderer",
    "enable_logging",
    "get_logger",
    "json_tracebacks",
]

ROOT_LOGGER = "n58aio"
EVENT_ATTRIBUTE = "n58aio_event"
"""The :class:`logging.LogRecord` attribute holding the event's fields (a dict)."""

LogFormat = Literal["console", "json"]
_Logger = structlog.typing.FilteringBoundLogger

logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class _StdlibEventLogger(structlog.stdlib.BoundLogger):
    """A structlog logger over a stdlib one that skips the processors of a disabled level."""

    def _proxy_to_logger(
        self, method_name: str, event: str | None = None, *event_args: str, **event_kw: Any
    ) -> Any:
        level = _LEVELS.get(method_name, logging.INFO)
        if not self._logger.isEnabledFor(level):
            return None
        return super()._proxy_to_logger(method_name, event, *event_args, **event_kw)


def _to_record(
    _logger: Any, _method: str, event_dict: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Last processor: the stdlib message is ``event key=value ...``; the fields ride along."""
    fields = dict(event_dict)
    exc_info = fields.pop("exc_info", None)
    fields.pop("positional_args", None)
    text = " ".join(
        [str(fields.get("event", "")), *(f"{k}={v!r}" for k, v in fields.items() if k != "event")]
    )
    kwargs: dict[str, Any] = {"extra": {EVENT_ATTRIBUTE: fields}}
    if exc_info:
        kwargs["exc_info"] = exc_info
    return (text,), kwargs


class _RoutedLogger:
    """A bound logger that sends each event, at the time it is logged, to the application's
    structlog configuration when there is one, else to the stdlib logger ``name``."""

    def __init__(self, name: str, context: dict[str, Any]) -> None:
        self._name = name
        self._context = context
        self._structlog: Any = None
        self._stdlib: Any = None

    def _target(self) -> Any:
        if structlog.is_configured():
            if self._structlog is None:
                self._structlog = structlog.get_logger(self._name).bind(**self._context)
            return self._structlog
        if self._stdlib is None:
            self._stdlib = structlog.wrap_logger(
                logging.getLogger(self._name),
                processors=[structlog.contextvars.merge_contextvars, _to_record],
                wrapper_class=_StdlibEventLogger,
                context_class=dict,
                cache_logger_on_first_use=False,
            ).bind(**self._context)
        return self._stdlib

    def bind(self, **values: Any) -> _RoutedLogger:
        return _RoutedLogger(self._name, {**self._context, **values})

    def new(self, **values: Any) -> _RoutedLogger:
        return _RoutedLogger(self._name, dict(values))

    def unbind(self, *keys: str) -> _RoutedLogger:
        missing = [key for key in keys if key not in self._context]
        if missing:
            raise KeyError(missing[0])
        return self.try_unbind(*keys)

    def try_unbind(self, *keys: str) -> _RoutedLogger:
        return _RoutedLogger(self._name, {k: v for k, v in self._context.items() if k not in keys})

    def __getattr__(self, method: str) -> Any:
        return getattr(self._target(), method)


def get_logger(name: str = ROOT_LOGGER, **context: Any) -> _Logger:
    """The library's logger ``name`` with ``context`` bound. Each event goes to the
    application's structlog configuration when there is one (at the time of the event), else
    to the stdlib logger ``name``, which prints nothing until the application adds a handler."""
    return cast(_Logger, _RoutedLogger(name, dict(context)))


def console_renderer(*, colors: bool) -> structlog.dev.ConsoleRenderer:
    """structlog's console renderer, its tracebacks without the frames' local variables (rich
    shows them by default, and a local may hold a PIN, a password or a key)."""
    formatter: Any = (
        structlog.dev.RichTracebackFormatter(show_locals=False)
        if find_spec("rich") is not None
        else structlog.dev.plain_traceback
    )
    return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=formatter)


def json_tracebacks() -> structlog.processors.ExceptionRenderer:
    """structlog's ``dict_tracebacks`` without the frames' local variables (see above)."""
    return structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    )


class EventFormatter(logging.Formatter):
    """Renders a record with its event fields through a structlog renderer (console or JSON);
    a record from another library is rendered with its message as the event."""

    def __init__(self, log_format: LogFormat = "console", *, colors: bool = False) -> None:
        super().__init__()
        self.renderer: Any
        if log_format == "json":
            self.renderer = structlog.processors.JSONRenderer(default=repr)
        else:
            self.renderer = console_renderer(colors=colors)

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, EVENT_ATTRIBUTE, None)
        event: dict[str, Any] = dict(fields) if isinstance(fields, dict) else {}
        event.setdefault("event", record.getMessage())
        event = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            **event,
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return str(self.renderer(None, record.levelname.lower(), event))


def enable_logging(
    log_format: LogFormat = "console",
    level: int | str = logging.INFO,
    *,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Print n58aio's events at ``level`` and up on ``stream`` (default stderr) as console
    lines or JSON objects; returns the handler (``logging.getLogger("n58aio").removeHandler``
    undoes it). Has no effect on events routed through an application's own structlog
    configuration."""
    if log_format not in ("console", "json"):
        raise InvalidValue(f"log_format must be 'console' or 'json', not {log_format!r}")
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    colors = log_format == "console" and stream is None and sys.stderr.isatty()
    handler.setFormatter(EventFormatter(log_format, colors=colors))
    logger = logging.getLogger(ROOT_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
