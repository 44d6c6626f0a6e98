"""A few seconds of the soak (``python -m soak``), so that it keeps working; the real run is
documented in ``docs/reliability.md``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from soak.__main__ import parse_args, soak, summary  # noqa: E402


async def test_a_short_soak_sees_no_broken_promise() -> None:
    args = parse_args(["--modems", "2", "--seconds", "6", "--fault-rate", "0.3", "--seed", "7"])
    args.quiet = True
    stats = await soak(args)
    figures = summary(stats, args, 6.0)
    assert stats.requests > 10, figures
    assert sum(stats.faults_fired.values()) > 0, figures
    assert figures["passed"], figures
