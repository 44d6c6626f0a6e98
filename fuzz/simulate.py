"""Deterministic simulation of the channel: ``python -m fuzz.simulate``.

Runs seeds of :func:`fuzz.sim.run.simulate` under one or every profile until ``--hours`` (or
``--runs``) are spent, and prints each failing seed with its invariant and the command that
replays it. ``--seed S --trace`` replays one run and prints its whole trace; ``--scenario NAME``
runs one of the directed scenarios of :mod:`fuzz.sim.scenarios`. Exit status 1 when any run
failed. See docs/simulation.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter

from fuzz.sim.run import SLACK, SimulationFailure, simulate
from fuzz.sim.scenarios import SCENARIOS, run_scenario
from fuzz.sim.workload import PROFILES, Profile


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m fuzz.simulate", description=__doc__)
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    parser.add_argument("--scenario", choices=list(SCENARIOS), help="run a directed scenario")
    parser.add_argument("--seed", type=int, help="replay this seed only")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--runs", type=int, help="stop after this many runs")
    parser.add_argument("--hours", type=float, help="stop after this many hours (wall clock)")
    parser.add_argument("--slack", type=float, default=SLACK, help="seconds past a timeout")
    parser.add_argument("--trace", action="store_true", help="print the whole trace of --seed")
    parser.add_argument("--max-failures", type=int, default=20, help="failures to print")
    parser.add_argument("--stats", action="store_true", help="print what the clean runs did")
    parser.add_argument(
        "--echo-late",
        action="store_true",
        help="a module that echoes a line only when it reads it, not while busy",
    )
    args = parser.parse_args(argv)
    names = list(PROFILES) if args.profile == "all" else [args.profile]
    profiles = [_profile(name, args.echo_late) for name in names]
    flag = " --echo-late" if args.echo_late else ""
    if args.scenario is not None:
        return _scenario(args.scenario, args.seed or 0, args.trace)
    if args.seed is not None:
        return _replay(args.seed, profiles, args.slack, args.trace)
    runs = args.runs if args.runs is not None else (None if args.hours else 1000)
    stop = time.monotonic() + args.hours * 3600 if args.hours else None
    failures: Counter[tuple[str, str]] = Counter()
    stats: Counter[str] = Counter()
    seed = args.start
    done = 0
    while (runs is None or done < runs) and (stop is None or time.monotonic() < stop):
        for profile in profiles:
            try:
                result = simulate(seed, profile, slack=args.slack)
            except SimulationFailure as failure:
                failures[(profile.name, failure.invariant)] += 1
                if sum(failures.values()) <= args.max_failures:
                    print(
                        f"FAIL seed {seed} profile {profile.name}: {failure.invariant}: "
                        f"{failure.detail}\n  replay: python -m fuzz.simulate "
                        f"--profile {profile.name} --seed {seed} --trace{flag}",
                        flush=True,
                    )
            else:
                stats.update(result.events)
                stats.update(
                    calls=result.calls,
                    streams=result.streams,
                    complete=result.streams_complete,
                    restarts=result.restarts,
                    noise=result.noise_hits,
                    resyncs=result.resyncs,
                )
            done += 1
        seed += 1
    print(f"{done} runs, seeds {args.start}..{seed - 1}, {sum(failures.values())} failed")
    for (name, invariant), count in sorted(failures.items()):
        print(f"  {name:6} {invariant:14} {count}")
    if args.stats:
        print(
            "clean runs: " + ", ".join(f"{name} {count}" for name, count in sorted(stats.items()))
        )
    return 1 if failures else 0


def _scenario(name: str, seed: int, trace: bool) -> int:
    try:
        lines = run_scenario(name, seed=seed)
    except SimulationFailure as failure:
        print(f"FAIL scenario {name}: {failure.invariant}: {failure.detail}")
        if trace:
            print("\n".join(failure.trace))
        return 1
    print(f"ok   scenario {name}")
    if trace:
        print("\n".join(lines))
    return 0


def _profile(name: str, echo_late: bool) -> Profile:
    profile = PROFILES[name]
    return dataclasses.replace(profile, echo_while_busy=False) if echo_late else profile


def _replay(seed: int, profiles: list[Profile], slack: float, trace: bool) -> int:
    status = 0
    for profile in profiles:
        try:
            result = simulate(seed, profile, slack=slack)
        except SimulationFailure as failure:
            status = 1
            print(f"FAIL seed {seed} profile {profile.name}: {failure.invariant}: {failure.detail}")
            if trace:
                print("\n".join(failure.trace))
            continue
        print(
            f"ok   seed {seed} profile {profile.name}: {result.calls} calls, {result.stream_items} "
            f"stream items, {result.streams_complete}/{result.streams} streams complete, "
            f"{result.virtual_seconds:.1f} virtual s"
        )
        if trace:
            print("\n".join(result.trace))
    return status


if __name__ == "__main__":
    sys.exit(main())
