"""n58aio benchmark suite: ``python -m benchmarks --quick`` (CI smoke) or ``--full``.

Every measurement that needs isolation (CPU time, peak RSS) runs in a subprocess of its own;
the emulators and the origin server run in helper processes. See ``docs/benchmarks.md``.
"""
