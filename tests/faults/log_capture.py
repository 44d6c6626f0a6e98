"""DEBUG log capture for the secret tests: every structlog event rendered to text."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import structlog


@contextlib.contextmanager
def debug_json_logs() -> Iterator[io.StringIO]:
    """structlog at DEBUG rendered as JSON lines (tracebacks included), into the yielded
    buffer; structlog's defaults are back afterwards."""
    sink = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=repr),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=sink),
        cache_logger_on_first_use=False,
    )
    try:
        yield sink
    finally:
        structlog.reset_defaults()
