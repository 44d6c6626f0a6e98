"""Where n58aio's log events go: silent unless the application asks for them.

The library logs structlog events with fields (``at.send``, ``download.retry`` ...). When the
application has configured structlog (``structlog.configure``), the events follow that
configuration. Otherwise they go to the standard library loggers ``n58aio``, ``n58aio.pool``,
``n58aio.emulator`` ..., which carry a :class:`logging.NullHandler`: nothing prints until the
application adds a handler, as with httpx. One line turns them on::

    logging.basicConfig(level=logging.INFO)   # stdlib text: "INFO:n58aio:modem.open url=..."
    n58aio.enable_logging()                   # console lines with the fields, on stderr
    n58aio.enable_logging("json")             # one JSON object per line, on stderr

Loggers are bound when a modem, pool or emulator is created: configure logging first.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal, cast

import structlog

from .errors import InvalidValue

__all__ = ["EVENT_ATTRIBUTE", "EventFormatter", "enable_logging", "get_logger"]

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


def get_logger(name: str = ROOT_LOGGER, **context: Any) -> _Logger:
    """The library's logger ``name`` with ``context`` bound: the application's structlog
    configuration when there is one, else the stdlib logger ``name`` (silent by default)."""
    if structlog.is_configured():
        return cast(
            structlog.typing.FilteringBoundLogger, structlog.get_logger(name).bind(**context)
        )
    logger = structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.contextvars.merge_contextvars, _to_record],
        wrapper_class=_StdlibEventLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
    )
    return cast(_Logger, logger.bind(**context))


class EventFormatter(logging.Formatter):
    """Renders a record with its event fields through a structlog renderer (console or JSON);
    a record from another library is rendered with its message as the event."""

    def __init__(self, log_format: LogFormat = "console", *, colors: bool = False) -> None:
        super().__init__()
        self.renderer: Any
        if log_format == "json":
            self.renderer = structlog.processors.JSONRenderer(default=repr)
        else:
            self.renderer = structlog.dev.ConsoleRenderer(colors=colors)

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
