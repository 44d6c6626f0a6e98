"""Deterministic simulation of the channel (issue #22): see docs/simulation.md.

:mod:`~fuzz.sim.vloop` (virtual time), :mod:`~fuzz.sim.module` (the N58, sans-IO),
:mod:`~fuzz.sim.line` (UART, OS buffer, transport), :mod:`~fuzz.sim.workload` (random schedules
through the channel's public API), :mod:`~fuzz.sim.check` (the invariants) and
:mod:`~fuzz.sim.run` (one seeded run); ``python -m fuzz.simulate`` runs many.
"""
