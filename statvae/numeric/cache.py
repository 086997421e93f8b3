"""On-disk cache of generated code, keyed by the model description.

The cache directory is ``$STATVAE_CACHE_DIR`` if set, else
``~/.cache/statvae``.  Entries are JSON files holding generated source text
and its metadata; nothing is pickled.  :func:`clear_cache` removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["cache_dir", "cache_key", "load", "store", "clear_cache"]

CODEGEN_VERSION = "4"


def cache_dir() -> Path:
    return Path(os.environ.get("STATVAE_CACHE_DIR") or Path.home() / ".cache" / "statvae")


def cache_key(*parts) -> str:
    from .. import __version__

    text = repr((__version__, CODEGEN_VERSION) + tuple(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(key: str) -> dict | None:
    p = cache_dir() / f"{key}.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def store(key: str, entry: dict) -> None:
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entry))
        tmp.replace(d / f"{key}.json")
    except OSError:
        pass  # a read-only home is not an error: the code is simply regenerated next time


def clear_cache() -> int:
    """Delete every cached entry; returns how many were removed."""
    n = 0
    for p in cache_dir().glob("*.json"):
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n
