"""Fuzz :func:`fuzz.targets.cmux_input` with atheris.

``python -m fuzz.cmux [libFuzzer options]``, for example ``-max_total_time=3600``.
"""

from __future__ import annotations

from fuzz._runner import run

if __name__ == "__main__":
    run("cmux_input")
