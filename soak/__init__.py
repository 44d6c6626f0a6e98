"""Soak test: many requests across several emulated modems with random faults, for a set time.

``python -m soak --modems 4 --seconds 600 --fault-rate 0.05`` (see ``python -m soak --help``
and ``docs/reliability.md``). Exits with status 1 when a wrong byte, a hang, a desync (a
command answered with another's reply) or a leak was seen.
"""
