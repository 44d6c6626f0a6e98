"""Fuzzing of n58aio's input handling: the sans-IO AT parser and the emulator's interpreter.

The targets (:mod:`fuzz.targets`) are deterministic functions of one byte string that raise on
any broken promise. They run under atheris (coverage-guided, libFuzzer) from the command line::

    python -m fuzz.parser  -max_total_time=3600 -rss_limit_mb=1024
    python -m fuzz.atline  -max_total_time=600
    python -m fuzz.module  -max_total_time=600

and under hypothesis in the test suite (``tests/fuzz``; ``N58_FUZZ_EXAMPLES`` sets how many
inputs, ``N58_FUZZ_SECONDS`` runs atheris for that long from pytest).
"""
