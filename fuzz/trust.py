"""Fuzz :func:`fuzz.targets.trust_input` with atheris: the trust invariant of the channel.

``python -m fuzz.trust [libFuzzer options]``, for example ``-max_total_time=3600``. Each input
runs a whole request through the simulated module in virtual time (a few milliseconds, also when
a fault makes a command time out).
"""

from __future__ import annotations

from fuzz._runner import run

if __name__ == "__main__":
    run("trust_input")
