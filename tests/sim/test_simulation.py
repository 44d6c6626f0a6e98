"""The deterministic simulation of the channel (issue #22), run with a fixed budget in CI.

Each profile runs a range of seeds through :func:`fuzz.sim.run.simulate`: random schedules of
commands, downloads, stalls, cancels and module faults, in virtual time, with every invariant
checked at every step (docs/simulation.md). A failure names its seed, its invariant and the
end of its trace; ``python -m fuzz.simulate --profile P --seed S --trace`` replays it.
``N58_SIM_RUNS`` scales the budget (runs per profile per 100 of the default).

The profiles and scenarios that today's channel fails are marked ``xfail(strict=True)``: the
new channel core (#22) fixes them, and the marks go when it is merged.
"""

from __future__ import annotations

import os

import pytest

from fuzz.sim.run import SimulationFailure, simulate
from fuzz.sim.scenarios import run_scenario

SCALE = float(os.environ.get("N58_SIM_RUNS", "100")) / 100
ITEM1 = "#22 item 1: fixed by the new channel core"
ITEM2 = "#22 item 2: fixed by the new channel core"
ITEM3 = "#22 item 3: fixed by the new channel core"
FOUND = "found by the simulation (docs/simulation.md): for the new channel core"
BUDGET = {"calm": 500, "busy": 400, "stall": 150, "noisy": 300, "full": 300}


def _budget(profile: str, first: int = 0) -> int:
    runs = max(1, int(BUDGET[profile] * SCALE))
    for seed in range(first, first + runs):
        simulate(seed, profile)
    return runs


def test_calm_schedules() -> None:
    """No faults, attentive consumers: what today's channel already promises."""
    assert _budget("calm") >= 1


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param("busy", marks=pytest.mark.xfail(strict=True, reason=ITEM2)),
        pytest.param("stall", marks=pytest.mark.xfail(strict=True, reason=ITEM1)),
        pytest.param("noisy", marks=pytest.mark.xfail(strict=True, reason=ITEM2)),
        pytest.param("full", marks=pytest.mark.xfail(strict=True, reason=ITEM2)),
    ],
)
def test_faulty_schedules(profile: str) -> None:
    """Busy modules, stalled and abandoning consumers, cancels, noise, restarts."""
    assert _budget(profile) >= 1


@pytest.mark.parametrize(
    ("scenario", "invariant"),
    [
        pytest.param(
            "stalled_consumer_while_polling",
            "exact-bytes",
            marks=pytest.mark.xfail(strict=True, reason=ITEM1, raises=SimulationFailure),
        ),
        pytest.param(
            "busy_module_zombie",
            "bounded-time",
            marks=pytest.mark.xfail(strict=True, reason=ITEM2, raises=SimulationFailure),
        ),
        pytest.param(
            "cancelled_behind_busy",
            "bounded-time",
            marks=pytest.mark.xfail(strict=True, reason=ITEM2, raises=SimulationFailure),
        ),
        pytest.param(
            "probe_ended_by_late_ok",
            "own-reply",
            marks=pytest.mark.xfail(strict=True, reason=ITEM3, raises=SimulationFailure),
        ),
    ],
)
def test_issue_22_scenarios(scenario: str, invariant: str) -> None:
    """The three failures of #22, as directed schedules in the simulation."""
    try:
        trace = run_scenario(scenario)
    except SimulationFailure as failure:
        assert failure.invariant == invariant, failure  # the break the scenario is about
        raise
    assert trace
