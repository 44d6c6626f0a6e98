"""Fuzz :func:`fuzz.targets.decoder_input` with atheris: the content decoder.

``python -m fuzz.decoder [libFuzzer options]``, for example ``-max_total_time=600
-rss_limit_mb=512``: the target's limits keep every input within a few MB and a few hundred
milliseconds.
"""

from __future__ import annotations

from fuzz._runner import run

if __name__ == "__main__":
    run("decoder_input")
