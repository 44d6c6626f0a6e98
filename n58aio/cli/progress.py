"""The transfer progress bar (bytes, rate, ETA) drawn with rich on stderr."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["TransferBar", "progress_wanted"]


def progress_wanted(disabled: bool, *, to_stdout: bool) -> bool:
    """Whether to draw a bar: not ``disabled``, stderr is a terminal, and the data does not go
    to that terminal through stdout."""
    if disabled or not _isatty(sys.stderr):
        return False
    return not (to_stdout and _isatty(sys.stdout))


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


class _RateColumn(ProgressColumn):
    """The transfer rate in KiB/s (binary units, like the byte counts)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        text = "?" if speed is None else f"{speed / 1024:.1f} KiB/s"
        return Text(text, style="progress.data.speed")


class TransferBar:
    """A one-line progress bar; does nothing when not ``enabled``.

    Use as a context manager and call :meth:`update` with the bytes done and the total (None
    while unknown).
    """

    def __init__(self, description: str, *, enabled: bool) -> None:
        self.description = description
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> TransferBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                _RateColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=None)
        return self

    def update(self, done: int, total: int | None) -> None:
        """Show ``done`` bytes of ``total``."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
