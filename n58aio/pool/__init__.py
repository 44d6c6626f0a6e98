"""Many modems from one process: :class:`ModemPool` schedules requests over local and remote
(``rfc2217://``, ``socket://``) modems, retries on faults and downloads in parallel.

See ``docs/pool.md``.
"""

from .download import PoolDownloadResult
from .pool import HARD_FAULTS, IDEMPOTENT_METHODS, RETRYABLE_FAULTS, ModemPool
from .stats import ModemState, ModemStats, PoolStats

__all__ = [
    "HARD_FAULTS",
    "IDEMPOTENT_METHODS",
    "RETRYABLE_FAULTS",
    "ModemPool",
    "ModemState",
    "ModemStats",
    "PoolDownloadResult",
    "PoolStats",
]
