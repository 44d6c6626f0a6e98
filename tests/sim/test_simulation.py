"""The deterministic simulation of the channel (issue #22), run with a fixed budget in CI.

Each profile runs a range of seeds through :func:`fuzz.sim.run.simulate`: random schedules of
commands, downloads, stalls, cancels and module faults, in virtual time, with every invariant
checked at every step (docs/simulation.md). A failure names its seed, its invariant and the
end of its trace; ``python -m fuzz.simulate --profile P --seed S --trace`` replays it.
``N58_SIM_RUNS`` scales the budget, in percent (100 by default; 1000: ten times the runs).

The profiles and scenarios that today's channel fails are marked ``xfail(strict=True)``: the
new channel core (#22) fixes them, and the marks go when it is merged.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from fuzz.sim.run import SimulationFailure, simulate
from fuzz.sim.scenarios import run_scenario
from fuzz.sim.workload import PROFILES

SCALE = float(os.environ.get("N58_SIM_RUNS", "100")) / 100
ITEM1 = "#22 item 1: fixed by the new channel core"
ITEM2 = "#22 item 2: fixed by the new channel core"
ITEM3 = "#22 item 3: fixed by the new channel core"
ITEM23_3 = "#23 item 3 (a restart that cuts a chunk): fixed by the new channel core"
FOUND = "found by the simulation (docs/simulation.md): for the new channel core"
ITEMS23 = "#22 items 2 and 3: fixed by the new channel core"
ALL = "#22 items 2 and 3, and what the simulation found (docs/simulation.md): for the new core"
BUDGET = {"calm": 300, "busy": 300, "busy_echo_late": 300, "stall": 300, "noisy": 300, "full": 200}


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
        pytest.param("busy", marks=pytest.mark.xfail(strict=True, reason=ITEMS23)),
        pytest.param("busy_echo_late", marks=pytest.mark.xfail(strict=True, reason=ITEM2)),
        pytest.param("stall", marks=pytest.mark.xfail(strict=True, reason=ITEM1)),
        pytest.param("noisy", marks=pytest.mark.xfail(strict=True, reason=ALL)),
        pytest.param("full", marks=pytest.mark.xfail(strict=True, reason=ALL)),
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
        pytest.param(
            "restart_cuts_a_chunk",
            "no-deadlock",
            marks=pytest.mark.xfail(strict=True, reason=ITEM23_3, raises=SimulationFailure),
        ),
        pytest.param(
            "silent_restart_cuts_a_chunk",
            "no-deadlock",
            marks=pytest.mark.xfail(strict=True, reason=ITEM23_3, raises=SimulationFailure),
        ),
    ],
)
def test_directed_scenarios(scenario: str, invariant: str) -> None:
    """The failures of #22 (items 1 to 3) and #23 (item 3), as directed schedules."""
    try:
        trace = run_scenario(scenario)
    except SimulationFailure as failure:
        assert failure.invariant == invariant, failure  # the break the scenario is about
        raise
    assert trace


# Seeds that failed, kept as regression cases: (profile, seed, what broke first on the tree where
# it was found). They replay exactly (``python -m fuzz.simulate --profile P --seed S --trace``)
# as long as the simulation's model and workload draw their dice as they do now.
REGRESSIONS = [
    ("stall", 2, ITEM1, "a stream handed out later bytes after a resync discarded some"),
    ("stall", 14, ITEM1, "same, at another offset"),
    ("busy", 0, ITEM2, "AT+CSQ took 3.8 s of its 0.5 s behind probes for a zombie"),
    ("busy", 2, ITEM2, "an unknown command took 1.07 s of its 0.5 s"),
    ("busy", 1, ITEM3, "AT got ERROR: the probe ended on a late OK"),
    ("busy", 4, ITEM3, "AT+CSQ got the probe's ERROR"),
    ("noisy", 28, FOUND, "a garbled first chunk header: its data read as lines, a report forged"),
    ("full", 4, FOUND, "a garbled first chunk header: the next chunks handed out from byte 0"),
    ("noisy", 1401, FOUND, "a chunk header that lost its ': <len>,': the chunk lost mid-stream"),
    ("noisy", 1358, FOUND, "a server's '+HTTPCLOSED' line ended a stream 'complete' at 4622 B"),
    ("full+echo_late", 382, FOUND, "a piece of broken chunk framing became a line of ATI's reply"),
    ("noisy", 59, FOUND, "a line end in a chunk header read as a receive-mode-0 start"),
    ("noisy", 38, FOUND, "same, '+HTTPRECV: \\n1143,': the length reached the stream"),
]


@pytest.mark.parametrize(
    ("profile", "seed"),
    [
        pytest.param(
            profile,
            seed,
            id=f"{profile}-{seed}",
            marks=pytest.mark.xfail(
                strict=True, reason=f"{reason} ({what})", raises=SimulationFailure
            ),
        )
        for profile, seed, reason, what in REGRESSIONS
    ],
)
def test_regression_seed(profile: str, seed: int) -> None:
    """A seed that once broke an invariant runs clean (``+echo_late``: with a module that echoes
    a line only when it reads it, ``--echo-late``)."""
    name, _, variant = profile.partition("+")
    chosen = PROFILES[name]
    if variant == "echo_late":
        chosen = dataclasses.replace(chosen, echo_while_busy=False)
    result = simulate(seed, chosen)
    assert result.calls > 0
