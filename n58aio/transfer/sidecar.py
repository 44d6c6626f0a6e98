"""The sidecar of a partial download: ``<path>.part.json`` records what of ``<path>.part`` is
verified (URL, size, validators, the verified prefix and its SHA-256), so that a later call,
by a modem or a pool, resumes from it after checking the prefix still hashes the same."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .integrity import Hashes, hash_file

__all__ = ["SIDECAR_VERSION", "hash_prefix", "read_sidecar", "write_sidecar"]

SIDECAR_VERSION = 1


def write_sidecar(path: Path, fd: int, record: dict[str, Any]) -> float:
    """Make the part file ``fd`` durable, then replace the sidecar ``path`` atomically with
    ``record`` (plus the version); return the time it was written."""
    os.fsync(fd)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump({"version": SIDECAR_VERSION, **record}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return time.monotonic()


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's record, or None when it is missing or not one of ours."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != SIDECAR_VERSION:
        return None
    checks = {
        "url": str,
        "verified": int,
        "sha256_prefix": str,
    }
    for key, kind in checks.items():
        if not isinstance(record.get(key), kind):
            return None
    for key, kind in (("total", int), ("etag", str), ("last_modified", str)):
        if record.get(key) is not None and not isinstance(record[key], kind):
            return None
    if record["verified"] < 0 or (
        record.get("total") is not None and record["verified"] > record["total"]
    ):
        return None
    record.setdefault("total", None)
    record.setdefault("etag", None)
    record.setdefault("last_modified", None)
    return record


def hash_prefix(path: Path, size: int, want_md5: bool) -> Hashes:
    """SHA-256 (and MD5) hashers fed with the first ``size`` bytes of ``path``."""
    hashes = Hashes.new(md5=want_md5)
    with path.open("rb") as source:
        hash_file(source.fileno(), size, hashes)
    return hashes
