"""structlog set-up of the command line (the library itself never configures structlog)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import structlog

from ..logs import console_renderer, json_tracebacks

__all__ = ["LEVELS", "REPEATED_BY_ERROR", "configure_logging"]

LEVELS = ("debug", "info", "warning", "error", "critical")
LogFormat = Literal["console", "json"]


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced, by tests say)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


#: The library's events that say what the command's own error line says next (the
#: exception that ends the command carries the same facts): logged once, as that line. A
#: probe retried (``resync.retry``) either succeeds, and nothing failed, or ends in the
#: command's error (``ModemNotAnswering`` on a silent port names what was tried).
REPEATED_BY_ERROR = frozenset(
    {
        "download.integrity_failed",
        "pool.download.integrity_failed",
        "bringup.pin_refused",
        "resync.retry",
    }
)


def _drop_repeated(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Drop the events the command's error line repeats, and the library's ``port.closed``
    warning when the CLI itself closed the port (both kept at ``debug``)."""
    name = event.get("event")
    if name in REPEATED_BY_ERROR:
        raise structlog.DropEvent
    if name == "port.closed" and "by the application" in str(event.get("reason")):
        raise structlog.DropEvent
    return event


def _processors(log_format: LogFormat, level: str) -> list[Any]:
    shared: list[Any] = [
        *([] if level == "debug" else [_drop_repeated]),
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if log_format == "json":
        return [
            *shared,
            json_tracebacks(),
            structlog.processors.JSONRenderer(),
        ]
    colors = sys.stderr.isatty()
    return [*shared, console_renderer(colors=colors)]


@contextmanager
def configure_logging(log_format: LogFormat, level: str) -> Iterator[None]:
    """Send log records to stderr as ``console`` text or ``json`` lines at ``level`` and up;
    the previous structlog configuration is restored on exit."""
    was_configured = structlog.is_configured()
    saved = structlog.get_config()
    structlog.configure(
        processors=_processors(log_format, level),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        context_class=dict,
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**saved)
        else:
            structlog.reset_defaults()
