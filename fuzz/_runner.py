"""Running a target of :mod:`fuzz.targets` under atheris (libFuzzer) from the command line."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run(target_name: str, argv: list[str] | None = None) -> None:
    """Fuzz ``fuzz.targets.<target_name>`` with n58aio instrumented for coverage.

    ``argv`` holds libFuzzer options (``-max_total_time=3600``, ``-runs=N``, a corpus
    directory ...); by default ``sys.argv``. Needs ``pip install atheris``.
    """
    try:
        import atheris
    except ImportError:  # pragma: no cover - depends on the environment
        sys.exit("atheris is not installed: pip install atheris")
    with atheris.instrument_imports(include=["n58aio"]):
        from fuzz import targets
    target: Callable[[bytes], None] = getattr(targets, target_name)
    atheris.Setup(list(sys.argv if argv is None else argv), target)
    atheris.Fuzz()
